"""The organisation's own meldcode as data, made from the active process version and the
organisation's settings; webui/documents.py renders it as a web page, a standalone page and a
PDF (and `meldcode document` writes those), in the words of the catalogues.

What the document holds comes from the handreiking of the Wet verplichte meldcode huiselijk
geweld en kindermishandeling and the Besluit verplichte meldcode (issue 14 point 4): the
forms of violence (VIOLENCE_FORMS, the options of `geweldsvormen`, CONTRACT section 5, and
ouderenmishandeling, which the diagram asks as who the victim is), the contacts, the five
steps as the diagram has them and the afwegingskader of one professional group."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from . import bpmn_checks, expressions, organisation, timezones, versions
from .errors import Conflict, Invalid
from .messages import N_
from .models import User
from .roles import AANDACHTSFUNCTIONARIS
from .store import unit_of_work

# The forms of violence the document defines, in its order: the options of `geweldsvormen`
# that CONTRACT section 5 names, then ouderenmishandeling (stap 1's `slachtoffer`: an older
# person). A diagram that offers more options adds them after these, with its own labels.
VIOLENCE_FORMS: tuple[str, ...] = (*bpmn_checks.CONTRACT_FIELDS["geweldsvormen"][1],
                                   "ouderenmishandeling")
NATIONAL_WEBSITE = "https://veiligthuis.nl/"  # Veilig Thuis's own site, when no region's is set
# The short names of the groups' own meldcodes, accepted beside the keys of
# organisation.BEROEPSGROEPEN (`meldcode document --beroepsgroep knmg`, `/meldcode?beroepsgroep=`).
def beroepsgroep_for(session, key: str | None, reader: str | None) -> str:
    """The professional group the document follows: `key` when given (a key of
    organisation.BEROEPSGROEPEN or an alias such as "knmg", organisation.beroepsgroep_key;
    Invalid naming the field `beroepsgroep` for anything else), else the reader's
    own group (users.beroepsgroep of the user named `reader`, issue 14 point 3), else the
    organisation's setting."""
    if key is not None:
        found = organisation.beroepsgroep_key(key)
        if found is None:
            raise Invalid(N_("Onbekende beroepsgroep."),
                          {"beroepsgroep": N_("Kies een beroepsgroep uit de lijst.")})
        return found
    if reader:
        own = session.scalar(select(User.beroepsgroep).where(User.name == reader))
        if own in organisation.BEROEPSGROEPEN:
            return own
    setting = organisation.read(session)["beroepsgroep"]
    return setting if setting in organisation.BEROEPSGROEPEN else "sociaal_domein"


def _aandachtsfunctionarissen(session) -> list[str]:
    """The names (display name, else user name) of the active users with the role
    aandachtsfunctionaris; names only, nothing else of them."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    return [u.display_name or u.name for u in users if u.has_role(AANDACHTSFUNCTIONARIS)]


def not_asked(definition, group: str) -> set[tuple[str, str]]:
    """The fields that no form of a case of professional group `group` asks, as (step id,
    field name), so the document does not list them (issue 14 point 3): a field whose
    `shown_when` reads nothing but `beroepsgroep` and fields not asked of the group, and does
    not hold for this group with those fields unanswered. A field that is not on a case's form
    is never answered (forms.validate records nothing for it) and a condition over an answer
    not given does not hold (forms.shown_fields), so a field shown only after a field of
    another group (the second attempt to reach the client before the melding,
    `client_niet_bereikt == True`, a KNMG point) is not asked of this group either. Followed
    to a fixed point, so chains of such fields are too; a name counts as answered while any
    step asks a field of that name. In: a loaded definition (definitions.load) and a key of
    organisation.BEROEPSGROEPEN. Raises nothing: a field whose condition cannot be read may
    be asked."""
    fields = [(step.id, f) for step in definition.steps.values() for f in step.fields]
    found: set[tuple[str, str]] = set()
    while True:
        unanswered = {f.name for _, f in fields} - {f.name for s, f in fields
                                                     if (s, f.name) not in found}
        grown = {(s, f.name) for s, f in fields if _hidden(f.shown_when, group, unanswered)}
        if grown == found:  # grows each round (hidden stays hidden with more unanswered): ends
            return found
        found = grown


def _hidden(condition: str | None, group: str, unanswered: set[str]) -> bool:
    """Whether a field shown when `condition` holds is never shown to `group`: the condition
    reads only `beroepsgroep` and names in `unanswered`, and does not hold (or cannot be
    evaluated, as forms.shown_fields treats it) with those names absent."""
    if not condition:
        return False
    try:
        if not expressions.names_in(condition) <= {"beroepsgroep", *unanswered}:
            return False
    except expressions.ExpressionError:
        return False
    try:
        return not expressions.evaluate(condition, {"beroepsgroep": group})
    except expressions.ExpressionError:  # an answer it reads is not given: does not hold
        return True


def _violence_forms(definition) -> list[dict[str, str]]:
    """The forms of violence: VIOLENCE_FORMS, then any further option of stap 1's
    `geweldsvormen` in the diagram, each {code, label} (label: the diagram's, "" for none)."""
    labels: dict[str, str] = {}
    for step in definition.steps.values():
        for field in step.fields:
            if field.name == "geweldsvormen":
                labels.update({o.value: o.label for o in field.options})
    codes = [*VIOLENCE_FORMS, *(c for c in labels if c not in VIOLENCE_FORMS)]
    return [{"code": code, "label": labels.get(code, "")} for code in codes]


def build(beroepsgroep: str | None = None, reader: str | None = None) -> dict[str, Any]:
    """The document's data, for one professional group (beroepsgroep_for: `beroepsgroep`, a
    key of organisation.BEROEPSGROEPEN, or the group of the user named `reader`, or the
    organisation's setting). Out: a dict with org (the settings, organisation.read, with
    beroepsgroep and beroepsgroep_label of that group), beroepsgroep (the key), version
    (int), deployed_at (an aware datetime in UTC), sha256, steps (each {id, name, lane (a
    role code), documentation (the diagram's text with the settings filled in), records (the
    labels of the step's fields that this group may be asked: all but not_asked)}),
    violence_forms ([{code, label}], _violence_forms), aandachtsfunctionaris_users (names,
    _aandachtsfunctionarissen) and veilig_thuis_website (the region's, else NATIONAL_WEBSITE).

    Raises Conflict when no process version is active, Invalid for an unknown beroepsgroep."""
    with unit_of_work() as session:
        version = versions.active_version(session)
        if version is None:
            raise Conflict(N_("Er is geen actieve procesversie."))
        group = beroepsgroep_for(session, beroepsgroep, reader)
        definition = versions.definition_for(session, version.version)
        settings = {**organisation.read(session), "beroepsgroep": group,
                    "beroepsgroep_label": organisation.BEROEPSGROEPEN[group]}
        values = organisation.placeholder_values(settings)
        left_out = not_asked(definition, group)
        steps = [
            {"id": step.id, "name": step.name, "lane": step.lane,
             "documentation": organisation.fill_in(step.documentation, values),
             "records": [f.label for f in step.fields if (step.id, f.name) not in left_out]}
            for step in definition.steps.values()
        ]
        return {
            "org": settings,
            "beroepsgroep": group,
            "version": version.version,
            "deployed_at": timezones.to_utc(version.deployed_at),
            "sha256": version.sha256,
            "steps": steps,
            "violence_forms": _violence_forms(definition),
            "aandachtsfunctionaris_users": _aandachtsfunctionarissen(session),
            "veilig_thuis_website": settings.get("veilig_thuis_regio_website")
            or NATIONAL_WEBSITE,
        }
