"""The organisation's own settings: name, aandachtsfunctionarissen, the Veilig Thuis region,
the professional group whose afwegingskader applies and the norm in working days per step of
the route (engine/due.py). The beheerder keeps them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from . import accounts, audit, due, forms, settings_seal, store
from .errors import Forbidden, Invalid
from .messages import N_, Message, text_of
from .models import Setting
from .roles import BEHEERDER
from .store import unit_of_work

BEROEPSGROEPEN = {  # the afwegingskader of each professional group (a page translates them)
    "artsen": N_("Artsen: de KNMG-meldcode"),
    "verpleegkundigen": N_("Verpleegkundigen en verzorgenden: de meldcode van V&VN"),
    "sociaal_domein": N_("Pedagogen, psychologen en sociaal werkers: het gezamenlijke "
                         "afwegingskader"),
}
# The short names of the groups' own meldcodes, accepted wherever a beroepsgroep is given (the
# command line's --beroepsgroep knmg): always stored as the key of BEROEPSGROEPEN.
BEROEPSGROEP_ALIASES = {"knmg": "artsen", "vvn": "verpleegkundigen", "v&vn": "verpleegkundigen",
                        "gezamenlijk": "sociaal_domein"}


def beroepsgroep_key(value: Any) -> str | None:
    """The key of BEROEPSGROEPEN that `value` names: a key itself or an alias (BEROEPSGROEP_
    ALIASES, e.g. "knmg" -> "artsen"; case and white space around it ignored); None for
    anything else. Raises nothing."""
    text = value.strip().lower() if isinstance(value, str) else ""
    text = BEROEPSGROEP_ALIASES.get(text, text)
    return text if text in BEROEPSGROEPEN else None


DEFAULTS: dict[str, Any] = {
    "organisatie_naam": "",
    "aandachtsfunctionarissen": [],  # [{"naam", "functie", "telefoon", "email"}]
    "veilig_thuis_telefoon": "0800-2000",
    "veilig_thuis_regio_naam": "",
    "veilig_thuis_regio_adres": "",
    "veilig_thuis_regio_telefoon": "",
    # the region's postal address beside veilig_thuis_regio_adres (street or postbus), and its
    # website: the contacts of the meldcode document (issue 14 point 4)
    "veilig_thuis_regio_postcode": "",
    "veilig_thuis_regio_plaats": "",
    "veilig_thuis_regio_website": "",
    "beroepsgroep": "sociaal_domein",
    # working days per step of the route before a task is due (engine/due.py, issue 13)
    due.NORM_KEY: due.DEFAULT_NORM,
}
_TEXT_LIMITS = {"organisatie_naam": 200, "veilig_thuis_telefoon": 40, "veilig_thuis_regio_naam": 200,
                "veilig_thuis_regio_adres": 400, "veilig_thuis_regio_telefoon": 40,
                "veilig_thuis_regio_postcode": 7, "veilig_thuis_regio_plaats": 100,
                "veilig_thuis_regio_website": 200}
_MULTILINE = {"veilig_thuis_regio_adres"}  # a textarea: newlines and tabs allowed
_PHONE = re.compile(r"^[0-9 +()\-]{0,40}$")
_POSTCODE = re.compile(r"^[1-9][0-9]{3} ?[A-Z]{2}$")  # a Dutch postcode: 3511 AB
_WEBSITE = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PERSON_KEYS = ("naam", "functie", "telefoon", "email")
_PERSON_LABELS = {"naam": N_("naam"), "functie": N_("functie"), "telefoon": N_("telefoon"),
                  "email": N_("e-mail")}
MAX_PEOPLE = 20


_KEYS = tuple(sorted(DEFAULTS))


def usable(key: str, value: Any) -> Any:
    """A stored value of setting `key` as the settings form would store it (validate: one
    rule for what the beheerder may enter and what a page may show). Raises ValueError (the
    Dutch reason) when the form would refuse it: the key then takes its default."""
    try:
        return validate({key: value})[key]
    except Invalid as exc:
        raise ValueError(exc.errors.get(key) or exc.message) from None


def read(session: Session) -> dict[str, Any]:
    """The organisation's settings: every key of DEFAULTS (the default where none is set) and
    `beroepsgroep_label`. A stored value is used only when the admin log vouches for it and
    the settings form would accept it; otherwise the last genuine value, or the default, with
    a warning in the log (engine/settings_seal.py, issue 11 F8): a value changed in the
    database, or damaged (no JSON, no UTF-8, another type), never reaches a page or a 500.
    Raises only what the database raises."""
    stored = settings_seal.trusted(session.connection(), _KEYS, usable).values
    values = {key: stored.get(key, default) for key, default in DEFAULTS.items()}
    values["beroepsgroep_label"] = BEROEPSGROEPEN.get(values["beroepsgroep"], "")
    return values


def current() -> dict[str, Any]:
    with unit_of_work() as session:
        return read(session)


def validate(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Invalid(N_("Ongeldige instellingen."), {"instellingen": N_("Verwacht een object.")})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key in payload:
        if key not in DEFAULTS:
            errors[str(key)[:100]] = N_("Onbekende instelling.")
    for key, limit in _TEXT_LIMITS.items():
        if key not in payload:
            continue
        value = payload[key]
        if not isinstance(value, str):
            errors[key] = N_("Vul tekst in.")
            continue
        # The text rule of every door (forms.clean_text): no control characters (a newline
        # only in the address), lone surrogates, bidi overrides or invisible spaces.
        try:
            value = forms.clean_text(value, multiline=key in _MULTILINE) or ""
        except ValueError as exc:
            errors[key] = text_of(exc)
            continue
        if len(value) > limit:
            errors[key] = Message(N_("Maximaal {n} tekens."), n=limit)
        elif key.endswith("telefoon") and not _PHONE.match(value):
            errors[key] = N_("Alleen cijfers, spaties, +, - en haakjes.")
        elif key.endswith("postcode") and value and not _POSTCODE.match(value.upper()):
            errors[key] = N_("Vul een Nederlandse postcode in, zoals 3511 AB.")
        elif key.endswith("website") and value and not _WEBSITE.match(value):
            errors[key] = N_("Vul een webadres in dat begint met https://.")
        elif key.endswith("postcode"):  # written as PostNL does: 3511 AB (also for 3511ab)
            clean[key] = f"{value.upper()[:4]} {value.upper()[-2:]}" if value else ""
        else:
            clean[key] = value
    if "veilig_thuis_telefoon" in clean and not clean["veilig_thuis_telefoon"]:
        errors["veilig_thuis_telefoon"] = N_("Het landelijke nummer is verplicht (0800-2000).")
    if "beroepsgroep" in payload:
        key = beroepsgroep_key(payload["beroepsgroep"])
        if key is None:
            errors["beroepsgroep"] = N_("Kies een beroepsgroep uit de lijst.")
        else:
            clean["beroepsgroep"] = key
    if due.NORM_KEY in payload:
        days = payload[due.NORM_KEY]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= due.MAX_NORM:
            errors[due.NORM_KEY] = Message(
                N_("Vul een heel aantal werkdagen in, van 1 tot en met {n}."), n=due.MAX_NORM)
        else:
            clean[due.NORM_KEY] = days
    if "aandachtsfunctionarissen" in payload:
        people = payload["aandachtsfunctionarissen"]
        if not isinstance(people, list) or len(people) > MAX_PEOPLE:
            errors["aandachtsfunctionarissen"] = Message(
                N_("Een lijst van hoogstens {n} personen."), n=MAX_PEOPLE)
        else:
            result = []
            for number, person in enumerate(people, start=1):
                if not isinstance(person, dict) or set(person) - set(_PERSON_KEYS):
                    errors["aandachtsfunctionarissen"] = Message(
                        N_("Persoon {number}: onbekende gegevens."), number=number)
                    break
                entry, refused = {}, None
                for k in _PERSON_KEYS:
                    raw = str(person.get(k) or "")
                    try:
                        entry[k] = forms.clean_text(raw, 200) or ""  # too long: refused, not cut
                    except ValueError as exc:
                        why = forms.refused_character(raw.strip(), subject=N_("de tekst"))
                        refused = Message(N_("Persoon {number}, {field}: {why}"), number=number,
                                          field=_PERSON_LABELS[k], why=why or text_of(exc))
                        break
                if refused is not None:
                    errors["aandachtsfunctionarissen"] = refused
                    break
                if not any(entry.values()):
                    continue  # an empty row in the form
                if not entry["naam"]:
                    errors["aandachtsfunctionarissen"] = Message(
                        N_("Persoon {number}: vul een naam in."), number=number)
                elif entry["telefoon"] and not _PHONE.match(entry["telefoon"]):
                    errors["aandachtsfunctionarissen"] = Message(
                        N_("Persoon {number}: ongeldig telefoonnummer."), number=number)
                elif entry["email"] and not _EMAIL.match(entry["email"]):
                    errors["aandachtsfunctionarissen"] = Message(
                        N_("Persoon {number}: ongeldig e-mailadres."), number=number)
                result.append(entry)
            clean["aandachtsfunctionarissen"] = result
    if errors:
        raise Invalid(N_("De instellingen zijn niet goed ingevuld."), errors)
    return clean


def _beheerder(who, via: accounts.Via | None, refusal: Message) -> str:
    """The beheerder's name (accounts.allowed); anyone else: the refusal in the admin log, as
    at every other admin door, then Forbidden with this page's own words."""
    try:
        return accounts.allowed(who, BEHEERDER, via)
    except Forbidden:
        raise Forbidden(refusal) from None


def update(who, payload: Any, via: accounts.Via | None = None) -> dict[str, Any]:
    """Store new settings (beheerder only); all or nothing. In: a Principal, the settings as
    the form posts them, `via` the request (for the admin log's refusal line). Out: the
    settings as read back. Raises Forbidden (logged as `refused`), Invalid (nothing stored)."""
    by = _beheerder(who, via, N_("Alleen een beheerder mag de instellingen van de organisatie "
                                 "wijzigen."))
    clean = validate(payload)
    with unit_of_work(write=True) as session:
        for key, value in clean.items():
            # the stored value is never read here: one a database writer damaged (no JSON, no
            # UTF-8) would fail the save; the beheerder's value replaces it (issue 11). One
            # statement, not check-then-insert: concurrent first saves never fail on the key
            store.upsert(session, Setting.__table__, {"key": key, "value": value}, ("key",),
                         ("value",))
        session.flush()
        audit.log_admin(session, by, "settings_changed", {"settings": clean})
        return read(session)


# --- settings in help texts --------------------------------------------------------------------

# Placeholders a process owner may write in the diagram's help texts and step descriptions.
PLACEHOLDERS = {
    "organisatie": N_("de naam van de organisatie"),
    "veilig_thuis_telefoon": N_("het landelijke nummer van Veilig Thuis"),
    "veilig_thuis_regio": N_("Veilig Thuis in de regio, met telefoonnummer"),
    "aandachtsfunctionaris": N_("de aandachtsfunctionaris(sen) met naam en telefoonnummer"),
    "afwegingskader": N_("het afwegingskader van de beroepsgroep"),
}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholder_values(settings: dict[str, Any], beroepsgroep: str | None = None) -> dict[str, str]:
    """What each placeholder reads as with these settings (sensible words when unset), Dutch.
    beroepsgroep: the group of the case whose texts these fill in (its owner's, recorded at its
    start: engine/professions.py); {afwegingskader} then names that group's afwegingskader
    instead of the organisation's (issue 14 point 3). Raises nothing."""
    national = settings.get("veilig_thuis_telefoon") or DEFAULTS["veilig_thuis_telefoon"]
    region = settings.get("veilig_thuis_regio_naam") or ""
    region_phone = settings.get("veilig_thuis_regio_telefoon") or ""
    if region and region_phone:
        regio = f"{region} ({region_phone})"
    elif region or region_phone:
        regio = region or f"Veilig Thuis in uw regio ({region_phone})"
    else:
        regio = "Veilig Thuis in de regio van de cliënt"
    people = [
        f"{p['naam']} ({p['telefoon']})" if p.get("telefoon") else p["naam"]
        for p in settings.get("aandachtsfunctionarissen") or [] if p.get("naam")
    ]
    if len(people) > 1:
        people_text = "aandachtsfunctionaris " + ", ".join(people[:-1]) + " of " + people[-1]
    else:
        people_text = f"aandachtsfunctionaris {people[0]}" if people else "de aandachtsfunctionaris"
    return {
        "organisatie": settings.get("organisatie_naam") or "onze organisatie",
        "veilig_thuis_telefoon": national,
        "veilig_thuis_regio": regio,
        "aandachtsfunctionaris": people_text,
        "afwegingskader": BEROEPSGROEPEN.get(beroepsgroep or "")
        or settings.get("beroepsgroep_label")
        or BEROEPSGROEPEN.get(settings.get("beroepsgroep") or "", "het afwegingskader"),
    }


def fill_in(text: str | None, values: dict[str, str]) -> str:
    """A help text with its {placeholders} replaced; unknown braces stay as written."""
    if not text:
        return text or ""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def settings_page(who, via: accounts.Via | None = None) -> dict[str, Any]:
    """The settings, to show them in the beheerder's form (beheerder only; anyone else is
    refused as update refuses them)."""
    _beheerder(who, via, N_("Alleen een beheerder mag de instellingen van de organisatie "
                            "inzien en wijzigen."))
    return current()
