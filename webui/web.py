"""What every page of the staff UI shares: the signed-in person, error pages, security
headers and template helpers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import format_date, format_datetime, format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from engine import pages, practice, stored_rows, timezones
from engine.commands import MAX_ID
from engine.errors import DomainError, Forbidden
from engine.messages import N_
from engine.roles import CASE_STARTERS
from engine.stored_text import damaged
from engine.stored_time import damaged_time

from . import CONTENT_SECURITY_POLICY
from .extensions import LANGUAGES, login_manager, select_locale
from .texts import translate, translate_all

# --- the signed-in person --------------------------------------------------------------------


class WebUser(UserMixin):
    """Flask-Login's user: the engine's Principal (with the request's source address)."""

    def __init__(self, person: pages.Person):
        self.principal = person.principal
        self.display_name = person.display_name

    def get_id(self) -> str:
        return str(self.principal.id)

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def roles(self) -> tuple[str, ...]:
        return self.principal.roles

    @property
    def may_start_case(self) -> bool:
        return self.principal.has_role(*CASE_STARTERS)


def source_address() -> str | None:
    return (request.remote_addr or "")[:100] or None


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    person = pages.person(user_id, source_address())
    return WebUser(person) if person else None


def principal():
    return current_user.principal


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a local path: never redirect to another site after sign-in."""
    if not target:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        # CR/LF would split the Location header; no local path holds a control character
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


# --- Dutch labels of the contract's codes -----------------------------------------------------

UITKOMST = {
    "gemeld": _l("Gemeld bij Veilig Thuis"),
    "hulp": _l("Hulp geboden of georganiseerd"),
    "gemeld_en_hulp": _l("Gemeld bij Veilig Thuis en hulp geboden"),
    "zorgen_weggenomen": _l("Zorgen weggenomen"),
    "geen_vermoeden": _l("Geen vermoeden"),
}
STATUS = {"open": _l("Open"), "closed": _l("Afgesloten")}
LANES = {
    "medewerker": _l("Medewerker"),
    "leidinggevende": _l("Leidinggevende"),
    "aandachtsfunctionaris": _l("Aandachtsfunctionaris"),
}
ROLES = {
    **LANES,
    "auditor": _l("Auditor"),
    "procesbeheerder": _l("Procesbeheerder"),
    "beheerder": _l("Beheerder"),
}
ACTIONS = {
    "case_started": _l("Casus gestart"),
    "task_completed": _l("Stap afgerond"),
    "decision_made": _l("Besluit volgens het afwegingskader"),
    "case_closed": _l("Casus afgesloten"),
    "case_handed_over": _l("Casus overgedragen"),
    "case_shared": _l("Casus gedeeld met een aandachtsfunctionaris"),
    "case_linked": _l("Casus gekoppeld"),
    "case_stalled": _l("Casus staat vast: geen taak open"),
    "case_migrated": _l("Casus verplaatst naar een andere procesversie"),
    "informed": _l("Leidinggevende en aandachtsfunctionaris ingelicht over de melding"),
    "timer_fired": _l("Wachttijd verstreken: het proces gaat verder"),
    "consult_requested": _l("Collega om advies gevraagd"),
    "consult_answered": _l("Advies gegeven"),
    "consult_withdrawn": _l("Vraag om advies vervallen: de casus is afgesloten"),
}
DECISIONS = {
    "besluit_melden": _l("Melden bij Veilig Thuis"),
    "besluit_hulp": _l("Hulp bieden of organiseren"),
}


def label(table: dict, code: Any) -> str:
    return str(table.get(code, code or "")) if code is not None else ""


# --- formatting --------------------------------------------------------------------------------


def when(value: datetime | None, style: str = "d MMMM yyyy 'om' HH:mm") -> str:
    """A time as the reader reads it, in Dutch time (Europe/Amsterdam, Flask-Babel's
    BABEL_DEFAULT_TIMEZONE) whatever the server's own zone: `value` an aware datetime, or a
    naive one that is UTC (SQLite's). None or "" gives "". The engine hands pages datetimes
    (its views' `stamp`, timezones.to_utc), never text: anything else (an ISO string, a date)
    raises TypeError rather than being parsed again."""
    if value is None or value == "":
        return ""
    if damaged_time(value):  # stored as no time (engine/stored_time.py): never its 1970
        return _("tijdstip beschadigd")
    if not isinstance(value, datetime):
        raise TypeError(f"when() takes a datetime, not {type(value).__name__}: {value!r}")
    if select_locale() == "en" and "'om'" in style:
        style = style.replace("'om'", "'at'")
    return format_datetime(timezones.to_utc(value), style)


def waited(value: datetime | None) -> str:
    """How long something has waited, in words: "3 uur", "2 dagen"; a time stored damaged
    (engine/stored_time.py) says so."""
    if value is None:
        return ""
    if damaged_time(value):
        return _("tijdstip beschadigd")
    delta = timezones.now_utc() - timezones.to_utc(value)
    if delta.total_seconds() < 60:
        return _("minder dan een minuut")
    return format_timedelta(delta, threshold=1.0, add_direction=False)


def answer(entry: dict[str, Any]) -> str:
    """A recorded value (an entry of engine/entries.labelled) as a person reads it: a
    date field's value comes as a date, a moment as a datetime shown in Dutch time (`when`; the
    engine reads the stored text), never parsed here."""
    value = entry.get("value")
    if entry.get("option_label"):
        return entry["option_label"]
    if isinstance(value, bool):
        return _("ja") if value else _("nee")
    if isinstance(value, datetime):  # a moment (a timer's due time): in Dutch time
        return when(value)
    if isinstance(value, date):
        return format_date(value, "d MMMM yyyy")
    if isinstance(value, list | tuple):  # names (the people informed), a multi field's codes
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


# --- conditions of conditional fields, for the form script -------------------------------------

def simple_condition(tests: list[dict[str, Any]] | None,
                     fields: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tests the browser checks for a conditional field (engine.form_conditions.decide:
    each `field == value` or `field != value` over a field of this form, all must hold) as
    the form template and webui/static/js/app.js take them: {"browser": the tests as app.js
    reads them from data-when (the field's name, op, value and type as the server reads the
    answer, and `default`, what it reads when the field is left empty), "tests": each with
    the label of its field and of its value for the hint without JavaScript, and, for one
    test, "field", "op", "value" as data-when-field/-op/-value (ja/nee for a yes/no)}. None
    for no tests: the field is then simply always shown, the server decides. Raises
    nothing."""
    if not tests:
        return None
    by_name = {f["name"]: f for f in fields}
    shown = []
    for test in tests:
        source = by_name.get(test["field"], {})
        value = test["value"]
        text = ("ja" if value else "nee") if isinstance(value, bool) else str(value)
        option = next((o["label"] for o in source.get("options", []) if o["value"] == value),
                      None)
        shown.append({**test, "text": text, "label": source.get("label", test["field"]),
                      "value_label": option or (_(text) if isinstance(value, bool) else text)})
    first = shown[0]
    return {"browser": tests, "tests": shown,
            **({"field": first["field"], "op": first["op"], "value": first["text"]}
               if len(shown) == 1 else {})}


# --- errors as pages ---------------------------------------------------------------------------

# A method the path does not take, at a page and at an API path alike: one text (webui/api's
# own handler takes it from here; a method refused in routing reaches _http_error below).
METHOD_NOT_ALLOWED = N_("Deze handeling is hier niet mogelijk.")

_HTTP_MESSAGES = {
    400: _l("Het verzoek is niet goed ontvangen."),
    403: _l("U heeft geen toegang tot deze pagina."),
    404: _l("Deze pagina bestaat niet (meer)."),
    405: _l(METHOD_NOT_ALLOWED),
    413: _l("Het verzoek is te groot."),
    429: _l("Te veel pogingen in korte tijd. Wacht een minuut en probeer het dan opnieuw."),
    500: _l("Er ging iets mis aan onze kant. Probeer het later opnieuw."),
}
_TITLES = {
    400: _l("Ongeldig verzoek"),
    403: _l("Geen toegang"),
    404: _l("Niet gevonden"),
    405: _l("Niet toegestaan"),
    409: _l("Gaat niet meer"),
    413: _l("Te groot"),
    422: _l("Niet goed ingevuld"),
    429: _l("Even wachten"),
    500: _l("Fout"),
}


def error_page(status: int, message: str, title: str | None = None):
    return render_template("error.html", status=status,
                           title=title or _TITLES.get(status, _("Fout")),
                           message=message, practice_page=_practice_error()), status


def _practice_error() -> bool:
    """Whether an error page is one of a practice case (a case or task in the path that the
    reader reads as practice: engine.practice.marks), so base.html marks it as every page of
    that case is marked. An error page never fails on this question."""
    args = request.view_args or {}
    if not current_user.is_authenticated or not ({"case_id", "task_id"} & set(args)):
        return False
    from engine import practice  # practice builds on cases: imported when needed

    try:
        return practice.marks(principal(), args.get("case_id"), args.get("task_id"))
    except Exception:  # e.g. the database gone during a 500 page: no mark, the page itself
        return False


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _domain_error(exc: DomainError):
    if exc.status == 404:  # e.g. a process version named by text stored in its number
        damaged_case = _stored_damage(exc)
        if damaged_case is not None:
            return damaged_case
    if _wants_json():
        return jsonify(translate_all({"error": exc.message, **exc.extra})), exc.status
    return error_page(exc.status, exc.message)


def _csrf_error(_exc: CSRFError):
    return error_page(400, _("Dit formulier is verlopen of mist zijn beveiligingscode. Ga terug, "
                             "laad de pagina opnieuw en probeer het nog eens."))


def _http_error(exc: HTTPException):
    code = exc.code or 500
    message = str(_HTTP_MESSAGES.get(code, exc.description or _("Fout.")))
    allow = getattr(exc, "valid_methods", None)  # a 405 names what the path takes (RFC 9110)
    if _wants_json() and code == 405:
        # routing's Allow would name the API's catch-all methods, as if the path took them all
        from .api import method_refusal  # the API imports this module

        return method_refusal()
    if _wants_json():
        return jsonify({"error": message}), code, ({"Allow": ", ".join(allow)} if allow else {})
    response, status = error_page(code, message)
    if allow:
        return response, status, {"Allow": ", ".join(allow)}
    if code == 429 and exc.get_response().headers.get("Retry-After"):
        return response, status, {"Retry-After": exc.get_response().headers["Retry-After"]}
    return response, status


# --- hostile requests ------------------------------------------------------------------------


def _refuse_hostile():
    """Before any view runs: a number in the path beyond what the database stores (ids and
    versions are 32-bit integers on PostgreSQL, commands.MAX_ID) names nothing: 404. A NUL
    character in the path, the query string or a header is never meant: 400 (PostgreSQL text
    cannot hold it, so it would otherwise fail deep in a query). Form fields and JSON bodies
    are checked where their fields are known, with the error at the field (forms.clean_text,
    api.json_body)."""
    if any(isinstance(v, int) and not -MAX_ID <= v <= MAX_ID
           for v in (request.view_args or {}).values()):
        message = _("Niet gevonden.") if _wants_json() else str(_HTTP_MESSAGES[404])
        return (jsonify({"error": message}), 404) if _wants_json() else error_page(404, message)
    if ("\x00" in request.path
            or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))
            or any("\x00" in v for _k, v in request.headers.items())):
        message = _("Het verzoek bevat een ongeldig teken (NUL).")
        if _wants_json():
            return jsonify({"error": message}), 400
        return error_page(400, message)
    return None


def _unstorable(exc: DataError | OverflowError):
    """The last line of defence: a value the database refuses (PostgreSQL: a NUL in text, a
    number beyond its integers; SQLite: an integer beyond 64 bits, an OverflowError its
    driver raises unwrapped) that no check before it caught is the request's fault, so 400 in
    Dutch rather than a 500. Logged with its traceback, so the missing check can be added.
    But when the case the request is about is stored damaged, the value came from the
    database, not the request: 409 naming the case (_stored_damage), never blaming the user."""
    damaged_case = _stored_damage(exc)
    if damaged_case is not None:
        return damaged_case
    current_app.logger.warning("value the database refused: %s", getattr(exc, "orig", exc),
                               exc_info=exc)
    message = _("Het verzoek bevat een waarde die niet kan worden verwerkt, zoals een "
                "onzichtbaar teken of een te groot getal.")
    if _wants_json():
        return jsonify({"error": message}), 400
    return error_page(400, message)


def _unexpected(exc: Exception):
    """Any other error: 409 in Dutch when the case (or task) of the request is stored damaged
    (a value that read as a marker, engine/stored_text.py, failing deeper down); else it goes
    on as it came (a 500, logged with its traceback)."""
    damaged_case = _stored_damage(exc)
    if damaged_case is None:
        raise exc
    return damaged_case


def _stored_damage(exc: BaseException):
    """The answer to an error on a case or task (from the request's path) that is stored
    damaged: 409 with what is damaged, in the reader's language, naming the case; the database
    was changed outside the application (issue 11 point 6: never a 500, nor a 400 or 404 that
    blames the reader). None when the request names no case or task, or nothing of it is
    damaged (engine.stored_rows.case_damage)."""
    args = request.view_args or {}
    case_id, task_id = args.get("case_id"), args.get("task_id")
    if isinstance(case_id, str):
        case_id = int(case_id) if case_id.isdigit() and int(case_id) <= MAX_ID else None
    if case_id is None and task_id is None:
        return None
    try:
        case_id, damage = stored_rows.case_damage(case_id, task_id)
    except Exception:  # noqa: BLE001 - the database gone as well: the error as it came
        return None
    if not damage:
        return None
    refused = _refused_read(case_id, task_id)
    if refused is not None:  # access first, then damage: no details to who may not read it
        return refused
    current_app.logger.warning("case %s is stored damaged: %s", case_id, list(damage),
                               exc_info=exc)
    fields = "; ".join(f"{name}: {translate(kind)}" for name, kind in damage.items())
    if isinstance(case_id, int):
        message = _("De gegevens van casus %(case)s zijn beschadigd opgeslagen (%(fields)s). "
                    "De database is buiten de applicatie gewijzigd: meld dit aan de beheerder, "
                    "die het met meldcode verify kan nagaan.", case=case_id, fields=fields)
    else:
        message = _("De gegevens van deze taak zijn beschadigd opgeslagen (%(fields)s). De "
                    "database is buiten de applicatie gewijzigd: meld dit aan de beheerder, "
                    "die het met meldcode verify kan nagaan.", fields=fields)
    if _wants_json():
        return jsonify({"error": message}), 409
    return error_page(409, message, _("Gegevens beschadigd"))


def _refused_read(case_id: Any, task_id: Any):
    """The 403 of any case the requester may not read (engine.case_access.may_read_damaged;
    CONTRACT section 2), logged as a refused read (NEN 7513), for a request on a case stored
    damaged; None when they may read it. Who cannot be told (no session, no token) or what
    does not read to decide is refused (fail closed)."""
    from engine import audit, case_access, store

    who = g.get("principal") if _wants_json() else (
        current_user.principal if current_user.is_authenticated else None)
    try:
        if who is not None and case_access.may_read_damaged(who, case_id):
            return None
    except Exception:  # noqa: BLE001 - the database gone as well: refused, not told why
        current_app.logger.warning("access to damaged case %s not decided", case_id,
                                   exc_info=True)
    if who is not None and isinstance(case_id, int):
        reading = request.method in ("GET", "HEAD")
        action = ("read_task" if reading else "complete_task") if task_id is not None else (
            "read" if reading else str(request.endpoint or "change").rpartition(".")[2])
        try:
            with store.unit_of_work(write=True) as session:
                audit.log_access(session, who, action, "denied", case_id=case_id,
                                 source=getattr(who, "source", None))
        except Exception:  # noqa: BLE001 - the refusal stands; the log failure is logged
            current_app.logger.warning("refused read of case %s not logged", case_id,
                                       exc_info=True)
    return _domain_error(Forbidden(N_("U heeft geen toegang tot deze casus.")))


class _DepthSafeJSON(DefaultJSONProvider):
    """request.get_json as Flask has it, but JSON nested deeper than Python's parser can follow
    ([[[[...]]]]) is invalid JSON (400, or None when silent) instead of a RecursionError (500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON te diep genest") from None


def _depth_safe_json(app: Flask) -> None:
    provider = _DepthSafeJSON(app)
    for setting in ("ensure_ascii", "sort_keys", "compact", "mimetype"):
        setattr(provider, setting, getattr(app.json, setting))
    app.json = provider


# --- headers on every response --------------------------------------------------------------


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if _https():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        # Pages show case content: never keep them in a shared or back-button cache.
        headers.setdefault("Cache-Control", "no-store")
    return response


def _https() -> bool:
    from flask import current_app

    return bool(current_app.config.get("HTTPS"))


def _template_context() -> dict[str, Any]:
    return {
        "current_lang": select_locale(),
        "languages": LANGUAGES,
        "label": label,
        "UITKOMST": UITKOMST,
        "STATUS": STATUS,
        "LANES": LANES,
        "ROLES": ROLES,
        "ACTIONS": ACTIONS,
        "DECISIONS": DECISIONS,
    }


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Meld u aan om verder te gaan.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DataError, _unstorable)
    app.register_error_handler(OverflowError, _unstorable)
    app.register_error_handler(Exception, _unexpected)
    _depth_safe_json(app)
    app.before_request(_refuse_hostile)
    app.after_request(_security_headers)
    app.context_processor(_template_context)
    # Every Message of the engine a template prints is in the reader's language (webui.texts).
    app.jinja_env.finalize = translate
    # ... and where a Message is put into another text first, not printed itself: |translate
    app.add_template_filter(translate, "translate")
    app.add_template_filter(when, "when")
    app.add_template_filter(waited, "waited")
    app.add_template_filter(answer, "answer")
    # a practice case's reference and reason, stored in Dutch, in the reader's language
    app.add_template_filter(practice.shown, "practice_text")
    # a client reference or reason stored as bytes that are no UTF-8 (engine.stored_text)
    app.jinja_env.tests["damaged"] = damaged
