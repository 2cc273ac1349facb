"""What the procesbeheerder's pages, the process endpoints of the API and `meldcode deploy` read
and do, each request one call: the versions with their open cases, the difference between two
versions, setting a version active, a deploy (API, command line) and the modeler's check,
preview and publish (a deploy of the modeler's files).

The modeler's check is exactly `meldcode check` (definitions.check on the set that a deploy
would store: a BPMN-only set takes the active version's DMN), with each problem also tied to
the diagram element it is about, so the browser can mark it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from sqlalchemy import select

from . import definition_xml, definitions, organisation, timezones, versions
from .commands import MAX_ID
from .definitions import SourceFile
from .errors import Conflict, Forbidden, Invalid, NotFound
from .messages import N_, Message
from .models import ProcessVersion
from .roles import AUDITOR, BEHEERDER, PROCESBEHEERDER
from .store import unit_of_work
from .users import Principal

# Who may look at the versions (as GET /api/v1/processes); only a procesbeheerder changes them.
READERS = (PROCESBEHEERDER, BEHEERDER, AUDITOR)

# The groups of the readable difference, in the order a process owner reads them.
DIFF_GROUPS = (
    ("element", N_("Elementen")),
    ("stroom", N_("Stromen en voorwaarden")),
    ("formulierveld", N_("Formuliervelden")),
    ("beslistabel", N_("Beslistabel")),
)


def _require(who: Principal, *roles: str) -> None:
    if not who.has_role(*roles):
        if roles == (PROCESBEHEERDER,):
            raise Forbidden(N_("Alleen een procesbeheerder mag processen wijzigen."))
        raise Forbidden(N_("U heeft geen toegang tot de procesversies."))


def _version(session, number: Any) -> ProcessVersion:
    """The version with that number. A number that is no integer, or one beyond what the
    database stores (a 32-bit integer on PostgreSQL, commands.MAX_ID), names none: NotFound,
    before any query (the database would refuse it, a 400 at best)."""
    try:
        number = int(number)
    except (TypeError, ValueError, OverflowError):
        raise NotFound(N_("Procesversie niet gevonden.")) from None
    row = session.get(ProcessVersion, number) if 0 < number <= MAX_ID else None
    if row is None:
        raise NotFound(Message(N_("Procesversie {number} bestaat niet."), number=number))
    return row


def _active(session) -> ProcessVersion | None:
    return next((v for v in versions.list_versions(session) if v.active), None)


def grouped(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """versions.diff's changes per kind, each kind with its heading (a Message: the web layer
    translates it); empty kinds left out."""
    groups = []
    for kind, title in DIFF_GROUPS:
        items = [c for c in changes if c["soort"] == kind]
        if items:
            groups.append({"soort": kind, "titel": title, "wijzigingen": items})
    return groups


# --- the versions page -------------------------------------------------------------------------


def versions_page(who: Principal, old: Any = None, new: Any = None) -> dict[str, Any]:
    """Every version (newest first; deployed_at an aware UTC datetime, for the page to show)
    with its open cases, the active one, and, when two versions are chosen, the difference
    between them. Raises Forbidden, NotFound (a chosen version that does not exist)."""
    _require(who, *READERS)
    with unit_of_work() as session:
        rows = versions.list_versions(session)
        open_cases = versions.open_cases_per_version(session)
        listing = [
            {**versions.version_view(row, timezones.to_utc),
             "open_cases": open_cases.get(row.version, 0)}
            for row in reversed(rows)
        ]
        active = next((v["version"] for v in listing if v["active"]), None)
        comparison = None
        if old not in (None, "") and new not in (None, ""):
            before, after = _version(session, old), _version(session, new)
            changes = versions.diff(versions.files_of(before), versions.files_of(after))
            comparison = {"old": before.version, "new": after.version, "count": len(changes),
                          "groups": grouped(changes)}
    return {"versions": listing, "active": active, "comparison": comparison,
            "may_change": who.has_role(PROCESBEHEERDER)}


def list_versions(who: Principal) -> list[dict[str, Any]]:
    """Every version, oldest first (GET /api/v1/processes)."""
    _require(who, *READERS)
    with unit_of_work() as session:
        return [versions.version_view(row) for row in versions.list_versions(session)]


def version_summary(who: Principal, number: Any) -> dict[str, Any]:
    """One version (deployed_at an aware UTC datetime, for the page to show) with its open
    cases and its difference to the active one (to confirm an activation). Raises Forbidden,
    NotFound."""
    _require(who, PROCESBEHEERDER)
    with unit_of_work() as session:
        row = _version(session, number)
        active = _active(session)
        changes = (versions.diff(versions.files_of(active), versions.files_of(row))
                   if active is not None and active.version != row.version else [])
        open_cases = versions.open_cases_per_version(session)
        return {**versions.version_view(row, timezones.to_utc),
                "open_cases": open_cases.get(row.version, 0),
                "active_version": active.version if active else None,
                "groups": grouped(changes), "count": len(changes)}


def activate(who: Principal, number: Any) -> dict[str, Any]:
    """Make an existing version the one new cases get; running cases keep theirs. The rule of
    a deploy of its files (versions.deploy_files): they must pass this release's check, else
    Conflict (409) and nothing changes (a version an earlier release stored with laxer checks,
    whose routes may stall, gets no new cases); the version that is already active stays so,
    without a check (it is not made active, so the rule does not apply) and without an
    admin-log line (versions.activate). Returns the version (version_view) with
    `activated`: false when it already was active. Raises Forbidden, NotFound, Conflict."""
    _require(who, PROCESBEHEERDER)
    with unit_of_work() as session:
        row = _version(session, number)
        if row.active:  # already what new cases get: nothing to check, nothing changes
            return {**versions.version_view(row), "activated": False}
        number, files = row.version, [SourceFile(f.name, f.content) for f in row.files]
    definition, problems = definitions.check(files)  # outside the write: a proof takes seconds
    if definition is None:
        raise Conflict(Message(N_("Versie {number} kan niet actief worden: haar bestanden komen "
                                  "niet door de controle van deze versie van Meldcode ({count} "
                                  "probleem/problemen, zie 'meldcode check'). Publiceer een "
                                  "verbeterde versie."), number=number, count=len(problems)))
    with unit_of_work(write=True) as session:
        row = _version(session, number)
        activated = versions.activate(session, row.version, by=who.name)
        session.flush()
        return {**versions.version_view(row), "activated": activated}


def version_file(who: Principal, number: Any, name: str) -> tuple[str, bytes]:
    """A file of a version as deployed (to download it, or open it in another modeler)."""
    _require(who, *READERS)
    with unit_of_work() as session:
        row = _version(session, number)
        found = next((f for f in row.files if f.name == name), None)
        if found is None:
            raise NotFound(N_("Dit bestand hoort niet bij deze versie."))
        return found.name, found.content


# --- the modeler -------------------------------------------------------------------------------


def modeler_source(who: Principal) -> dict[str, Any]:
    """The active version's files, which the modeler opens."""
    _require(who, PROCESBEHEERDER)
    with unit_of_work() as session:
        row = _active(session)
        if row is None:
            raise NotFound(N_("Er is nog geen procesversie gepubliceerd."))
        bpmn = next(f for f in row.files if f.kind == "bpmn")
        dmn = next((f for f in row.files if f.kind == "dmn"), None)
        return {"version": row.version, "bpmn_name": bpmn.name,
                "bpmn": bpmn.content.decode("utf-8"),
                "dmn_name": dmn.name if dmn else None,
                "dmn": dmn.content.decode("utf-8") if dmn else None,
                "placeholders": dict(organisation.PLACEHOLDERS)}


def _edited_files(session, payload: Any) -> list[SourceFile]:
    """The modeler's files (_named_files), completed as a deploy completes them."""
    return versions.complete_set(session, _named_files(session, payload))


def _named_files(session, payload: Any) -> list[SourceFile]:
    """The files the modeler sends ({"bpmn": xml, "dmn": xml or absent}), named as the active
    version names them."""
    if not isinstance(payload, dict) or not isinstance(payload.get("bpmn"), str):
        raise Invalid(N_("Stuur het diagram mee."), {"bpmn": N_("Het BPMN-diagram ontbreekt.")})
    unknown = set(payload) - {"bpmn", "dmn"}
    if unknown:
        raise Invalid(N_("Onbekende gegevens."), {str(k)[:100]: N_("Onbekend veld.") for k in unknown})
    active = _active(session)
    names = {f.kind: f.name for f in active.files} if active else {}
    files = [SourceFile(names.get("bpmn", "meldcode.bpmn"), payload["bpmn"].encode("utf-8"))]
    if isinstance(payload.get("dmn"), str) and payload["dmn"].strip():
        files.append(SourceFile(names.get("dmn", "afwegingskader.dmn"),
                                payload["dmn"].encode("utf-8")))
    return files


def _problems_on_elements(files: list[SourceFile], problems) -> list[dict[str, Any]]:
    """Each problem with the diagram element it is about (`element`, its id) and how a process
    owner knows that element (`label`: its name, the id when it has none). The steps of a
    witness route stay as the check gives them: the modeler names them from its diagram."""
    indexes = {f.name: definition_xml.element_ids_by_line(f.content) for f in files}
    labels: dict[str, str] = {}  # id -> name, white space folded, of every element with both
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    for f in files:
        try:
            root = etree.fromstring(f.content, parser)
        except (etree.XMLSyntaxError, ValueError):
            continue  # the check names that problem; no labels from this file
        for node in root.iter():
            node_id, name = node.get("id"), " ".join((node.get("name") or "").split())
            if isinstance(node.tag, str) and node_id and name:
                labels[node_id] = name
    out = []
    for p in problems:
        index = indexes.get(p.file)
        element = definition_xml.element_for_line(index, p.line) if index and p.line > 1 else None
        out.append({**p.as_dict(), "element": element,
                    "label": labels.get(element, element) if element else None})
    return out


def check_edited(who: Principal, payload: Any) -> dict[str, Any]:
    """`meldcode check` on the modeler's diagram (and table), and what it changes compared to
    the active version. Nothing is stored."""
    _require(who, PROCESBEHEERDER)
    with unit_of_work() as session:
        files = _edited_files(session, payload)
        definition, problems = definitions.check(files)
        active = _active(session)
        changes = _diff_or_nothing(active, files)
        existing = session.scalar(select(ProcessVersion).where(
            ProcessVersion.sha256 == definitions.set_sha256(files)))
        return {
            "ok": definition is not None,
            "problems": _problems_on_elements(files, problems),
            "changes": changes,
            "groups": grouped(changes),
            "active_version": active.version if active else None,
            "same_as_version": existing.version if existing is not None else None,
        }


def _diff_or_nothing(active: ProcessVersion | None, files: list[SourceFile]) -> list[dict]:
    """The changes against the active version; none while the XML does not even parse (the
    check names that problem)."""
    if active is None:
        return []
    try:
        return versions.diff(versions.files_of(active), files)
    except (etree.XMLSyntaxError, ValueError):
        return []


def deploy(who: Principal | str,
           files: list[SourceFile] | Callable[[], list[SourceFile]]) -> dict[str, Any]:
    """Deploy a file set: the one command behind POST /api/v1/processes, `meldcode deploy` and
    the modeler's Publiceren (publish). A set identical to a deployed one is that version, made
    active (versions.deploy).

    who: a Principal, which must be a procesbeheerder, or the operator's name on the command
    line. files: the set, or a function that reads it, called only once the caller may deploy
    (an upload is not read for someone who may not). Returns versions.deploy_files's dict
    (the version with `created` and `reactivated`). Raises Forbidden, InvalidDefinition with
    the problems (nothing stored), and what reading the files raises.
    """
    if isinstance(who, Principal):
        _require(who, PROCESBEHEERDER)
    by = who.name if isinstance(who, Principal) else who
    return versions.deploy_files(files() if callable(files) else files, by)


def publish(who: Principal, payload: Any) -> dict[str, Any]:
    """Deploy the modeler's diagram (and table) as deploy does: a new version, or the existing
    version with these very files; either is the active one from now on. A set that does not
    pass the check raises Invalid with the problems tied to diagram elements, and nothing is
    stored."""
    _require(who, PROCESBEHEERDER)
    with unit_of_work() as session:
        files = _named_files(session, payload)
    try:
        return deploy(who, files)
    except definitions.InvalidDefinition as exc:
        with unit_of_work() as session:
            full = versions.complete_set(session, files)
        raise Invalid(N_("De procesversie is niet gepubliceerd: het diagram bevat fouten."),
                      _problems_on_elements(full, exc.problems)) from None
