"""The JSON API of CONTRACT section 4: /api/v1.

Every view is routed through `endpoint`, which declares its operation for the OpenAPI document
(openapi.py) and serialises what the view returns through the model it declares for that status
(models.py); refusals go through the Error model. The document is thereby generated from the
same models that shape the answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, after_this_request, current_app, g, request, url_for
from werkzeug.exceptions import HTTPException

from engine import (
    accounts,
    cases,
    commands,
    consults,
    definitions,
    links,
    notifications,
    oversight,
    process_admin,
    sharing,
    tasks,
    tokens,
    verification,
)
from engine.errors import BadRequest, DomainError, Invalid, NotAuthenticated
from engine.forms import REQUIRED, refused_character
from engine.messages import N_, Message
from engine.roles import AUDITOR

from .. import DEPLOY_LIMIT, JSON_LIMIT
from .. import notifications as notices
from ..texts import translate, translate_all
from ..web import METHOD_NOT_ALLOWED
from . import models
from .openapi import ERROR, Operation, Reply, declare, openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def answer(reply: Reply, value: Any, status: int) -> Response:
    """The answer `status` with `value` serialised through the model of `reply`; 204 none."""
    if status == 204:
        return current_app.response_class(status=204)
    return current_app.response_class(reply.json(value), status=status,
                                      mimetype="application/json")


def error(status: int, message: str, **extra) -> Response:
    """The refusal `status` through the Error model; a Message (N_) in the reader's language:
    Dutch unless the client asks for English (extensions.select_locale)."""
    return answer(ERROR, {"error": translate(message), **translate_all(extra)}, status)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    extra = dict(exc.extra)
    if isinstance(exc, Invalid):
        extra["errors"] = exc.errors
    return error(exc.status, exc.message, **extra)


DEPLOY_REFUSAL = Reply(models.DeployRefusal, "niet publiceerbaar; niets gepubliceerd")


@bp.errorhandler(definitions.InvalidDefinition)
def _invalid_definition(exc):
    body = {"error": translate(N_("Het proces kan niet worden gepubliceerd.")),
            "errors": translate_all([p.as_dict() for p in exc.problems])}
    return answer(DEPLOY_REFUSAL, body, 422)


HTTP_MESSAGES: dict[int | None, Message] = {
    404: N_("Niet gevonden."),
    405: METHOD_NOT_ALLOWED,  # the same text as a page's 405 (webui.web)
    413: N_("Het verzoek is te groot."),
    400: N_("Ongeldig verzoek."),
    500: N_("Er ging iets mis aan onze kant. Probeer het later opnieuw."),
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error(exc.code or 500, HTTP_MESSAGES.get(exc.code, exc.description or N_("Fout.")))


def source_address() -> str | None:
    return (request.remote_addr or "")[:100] or None


NO_TOKEN = N_("Geen of ongeldig token.")


def token_auth(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(NO_TOKEN)
        principal = tokens.principal_for_token(token.strip(), source_address())
        if principal is None:
            raise NotAuthenticated(NO_TOKEN)
        g.principal = principal
        return fn(*args, **kwargs)

    return wrapper


def endpoint(method: str, rule: str, summary: str, replies: dict[int, tuple[Any, str]],
             refusals: Iterable[int] = (), body: Any = None, auth: bool = True,
             own_refusals: dict[int, Reply] | None = None,
             query: tuple[dict[str, Any], ...] = ()) -> Callable:
    """Route a view at `rule` for `method` and declare its operation in the OpenAPI document.

    replies: the answers that are no refusal, by status: (the model or type the view's value
    is serialised through, what the answer means); a view returns its value, or (value,
    status). refusals: the statuses it may refuse with through the Error model, besides 400
    (any request can be malformed), 405 (its path asked with a method it does not take, by
    `unknown`: OpenAPI has no place for the answer of a method a path lacks, so every operation
    of the path names it) and, with auth (a bearer token), 401 and 503 (a busy
    database: every request of a token holder may write, if only its access-log line, and a
    writer on SQLite gives up after MELDCODE_WRITE_LOCK_TIMEOUT); own_refusals: a
    refusal with a body of its own. body: the request body's model (JSON), or its content by
    media type. query: the query parameters it reads, as OpenAPI parameter objects without
    "in"."""
    def decorate(view):
        refused = {400, 405, *refusals, *([401, 503] if auth else [])}
        operation = declare(Operation(
            method, rule, view.__name__, summary,
            replies={status: Reply(shape, text) for status, (shape, text) in replies.items()},
            refusals={status: (own_refusals or {}).get(status, ERROR)
                      for status in sorted(refused | set(own_refusals or ()))},
            body=body, auth=auth, query=query))

        @wraps(view)
        def serialised(*args, **kwargs):
            result = view(*args, **kwargs)
            value, status = result if isinstance(result, tuple) else (result, operation.status)
            # a Message of the engine (a consult task's name, say) in the request's language
            return answer(operation.replies[status], translate_all(value), status)

        bp.add_url_rule(rule, view_func=token_auth(serialised) if auth else serialised,
                        methods=[method])
        return view

    return decorate


def json_body(form_key: str | None = None):
    """The request's JSON value; 413 over 1 MiB, 400 when it is not JSON or nested deeper than
    MAX_JSON_DEPTH, 422 naming the field of a NUL character. form_key: the top-level key whose
    value is a form's answers; forms.validate checks those itself (a NUL there is that field's
    422 from the engine, which logs the refused change)."""
    length = request.content_length
    if length is not None and length > JSON_LIMIT:
        raise _TooLarge()
    raw = request.get_data(cache=True)
    if len(raw) > JSON_LIMIT:
        raise _TooLarge()
    try:
        value = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested deeper than Python's parser can follow ([[[[...]]]])
        raise BadRequest(N_("De body is geen geldige JSON.")) from None
    return _checked(value, form_key)


MAX_JSON_DEPTH = 32  # far beyond any request of CONTRACT section 4 (a form answer is depth 3)


def _checked(value, form_key: str | None = None):
    """The parsed body when it can be stored on every database; else BadRequest (nested too
    deep: it would exhaust the stack of whatever walks it next) or Invalid naming the field
    of a NUL character (PostgreSQL text cannot hold it; CONTRACT section 4: 422 by field).
    Walks without recursion, so any depth is safe here."""
    todo: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while todo:
        item, depth, path = todo.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(Message(N_("De JSON is te diep genest (maximaal {levels} niveaus)."),
                                     levels=MAX_JSON_DEPTH))
        nul_matters = not path or path[0] != form_key
        if isinstance(item, dict):
            for key, inner in item.items():
                if nul_matters and _unstorable(key):
                    raise _nul_in((*path, key), key)
                todo.append((inner, depth + 1, (*path, key)))
        elif isinstance(item, list):
            todo.extend((inner, depth + 1, path) for inner in item)
        elif nul_matters and isinstance(item, str) and _unstorable(item):
            raise _nul_in(path, item)
    return value


# A lone surrogate ("\ud800" in JSON) is no character: no database stores it.
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # and a NUL: PostgreSQL text cannot hold it


def _unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def _nul_in(path: tuple[str, ...], text: str) -> Invalid:
    # The form field the client knows: {"data": {"field": ...}} names "field".
    name = path[1] if len(path) > 1 and path[0] == "data" else (path[0] if path else "body")
    name = _SURROGATE.sub("\ufffd", name.replace("\x00", "\\u0000"))[:100]
    # at the field, the words of every text field for that character (form_text's rule, as a
    # form's answer or the engine gives them; task W point 2b), naming the unstorable one
    found = _UNSTORABLE.search(text)
    return Invalid(N_("Een tekst bevat een ongeldig teken (NUL of een losse surrogaat)."),
                   {name: refused_character(found.group() if found else "\x00")})


class _TooLarge(DomainError):
    status = 413

    def __init__(self, limit: str = "1 MiB"):
        super().__init__(Message(N_("Het verzoek is te groot (maximaal {limit})."), limit=limit))


@endpoint("GET", "/openapi.json", "Dit document",
          {200: (dict[str, Any], "het OpenAPI 3.1-document")}, auth=False)
def openapi():
    return openapi_document()


@endpoint("POST", "/cases", "Start een casus", {201: (models.Case, "de nieuwe casus")},
          refusals=(403, 409, 413, 422), body=models.StartCaseRequest)
def start_case():
    payload = json_body()
    if not isinstance(payload, dict):
        raise BadRequest(N_("Verwacht een JSON-object."))
    return links.start(g.principal, payload), 201  # cases.start_case, a refused link logged


CASE_REFUSALS = (403, 404)


@endpoint("GET", "/cases/<case_id>", "Een casus", {200: (models.Case, "de casus")},
          refusals=CASE_REFUSALS)
def get_case(case_id):
    return cases.get_case(g.principal, case_id)


@endpoint("POST", "/cases/<case_id>/handover",
          "Draag een open casus over aan een collega (eigenaar of diens leidinggevende); de "
          "nieuwe eigenaar rondt de medewerkerstaken af",
          {200: (models.Case, "de casus met de nieuwe eigenaar")},
          refusals=(*CASE_REFUSALS, 409, 413, 422), body=models.HandOverRequest)
def hand_over(case_id):
    with commands.refusals_logged(g.principal, case_id, "hand_over"):
        return sharing.hand_over(g.principal, case_id, json_body())


@endpoint("POST", "/cases/<case_id>/shares",
          "Deel een open casus met een aandachtsfunctionaris, die haar dan mag inzien "
          "(eigenaar of diens leidinggevende)", {200: (models.Case, "de casus")},
          refusals=(*CASE_REFUSALS, 409, 413, 422), body=models.ShareRequest)
def share(case_id):
    with commands.refusals_logged(g.principal, case_id, "share"):
        return sharing.share(g.principal, case_id, json_body())


@endpoint("POST", "/cases/<case_id>/consults",
          "Vraag de leidinggevende van de eigenaar of een aandachtsfunctionaris om advies "
          "(eigenaar of diens leidinggevende); die krijgt een taak en mag de casus inzien",
          {201: (models.ConsultCreated, "de raadpleging en de taak van wie geraadpleegd wordt")},
          refusals=(*CASE_REFUSALS, 409, 413, 422), body=models.ConsultRequest)
def consult(case_id):
    with commands.refusals_logged(g.principal, case_id, "consult"):
        return consults.request(g.principal, case_id, json_body()), 201


@endpoint("GET", "/notifications", "De eigen meldingen van deze gebruiker, nieuwste eerst",
          {200: (list[models.Notification], "meldingen (hoogstens 100)")})
def list_notifications():
    return notices.for_api(notifications.listing(g.principal))


@endpoint("POST", "/notifications/<notification_id>/read", "Markeer een eigen melding als gelezen",
          {204: (None, "gelezen")}, refusals=(404,))
def read_notification(notification_id):
    notifications.mark_read(g.principal, notification_id)
    return None, 204


@endpoint("GET", "/cases/<case_id>/history", "De geschiedenis van een casus, oudste eerst",
          {200: (list[models.HistoryEvent], "de gebeurtenissen")}, refusals=CASE_REFUSALS)
def case_history(case_id):
    return cases.history(g.principal, case_id)


@endpoint("GET", "/cases/<case_id>/verify",
          "Controleer de geschiedenisketen en speel de casus opnieuw af",
          {200: (models.Verdict, "het oordeel")}, refusals=CASE_REFUSALS)
def verify_case(case_id):
    # the problems in the reader's language (Dutch unless Accept-Language asks for English)
    return translate_all(verification.verify(g.principal, case_id))


@endpoint("GET", "/cases/<case_id>/access-log",
          "Wie heeft deze casus ingezien of gewijzigd (NEN 7513); alleen auditors",
          {200: (list[models.AccessLogEntry], "toegangslog, oudste eerst")},
          refusals=CASE_REFUSALS)
def case_access_log(case_id):
    return oversight.access_log(g.principal, case_id)


@endpoint("GET", "/tasks", "De open taken die deze gebruiker mag afronden",
          {200: (list[models.Task], "taken: eerst die met spoed, dan op termijn (zonder "
                                    "termijn achteraan), dan op het moment van gereedkomen")})
def list_tasks():
    return tasks.ready_tasks(g.principal)


@endpoint("GET", "/tasks/<task_id>", "Een taak met haar formulier",
          {200: (models.TaskDetail, "de taak")}, refusals=(403, 404))
def get_task(task_id):
    return tasks.get_task(g.principal, task_id)


@endpoint("POST", "/tasks/<task_id>/complete", "Rond een taak af",
          {200: (models.CompletedCase, "de casus na afronden")},
          refusals=(403, 404, 409, 413, 422), body=models.CompleteRequest)
def complete_task(task_id):
    payload = json_body(form_key="data")
    if not isinstance(payload, dict):
        raise BadRequest(N_("Verwacht een JSON-object met 'data'."))
    unknown = [k for k in payload if k != "data"]
    if unknown:
        raise Invalid(N_("Onbekende sleutel in het verzoek."),
                      {str(k)[:100]: N_("Onbekend veld.") for k in unknown})
    if "data" not in payload:
        raise Invalid(N_("'data' ontbreekt."), {"data": REQUIRED})
    case = tasks.complete_task(g.principal, task_id, payload["data"])
    g.completed_practice = bool(case.get("practice"))  # for the metrics (observability)
    return case


@endpoint("GET", "/processes", "Alle procesversies (procesbeheerder, beheerder, auditor)",
          {200: (list[models.ProcessVersion], "versies, oudste eerst")}, refusals=(403,))
def list_processes():
    return process_admin.list_versions(g.principal)


def _uploaded_files() -> list[definitions.SourceFile]:
    length = request.content_length
    if length is not None and length > DEPLOY_LIMIT:
        raise _TooLarge("5 MiB")
    if request.mimetype == "multipart/form-data":
        parts = request.files.getlist("files")
        if not parts:
            raise BadRequest(N_("Geen bestanden: stuur BPMN/DMN als delen met de naam 'files'."))
        result = []
        for i, part in enumerate(parts):
            name = (part.filename or f"bestand{i + 1}.bpmn").replace("\\", "/").rsplit("/", 1)[-1]
            result.append(definitions.SourceFile(name[:200], part.read(DEPLOY_LIMIT + 1)))
        if sum(len(f.content) for f in result) > DEPLOY_LIMIT:
            raise _TooLarge("5 MiB")
        return result
    raw = request.get_data(cache=False)
    if len(raw) > DEPLOY_LIMIT or (length is None and len(raw) >= DEPLOY_LIMIT
                                   and request.environ["wsgi.input"].read(1)):
        # A chunked body (no Content-Length) is cut off at MAX_CONTENT_LENGTH (= DEPLOY_LIMIT)
        # without an error; one byte more from the server's own stream tells it was longer.
        raise _TooLarge("5 MiB")
    if not raw.strip():
        raise BadRequest(N_("Lege body: stuur een BPMN-bestand."))
    return [definitions.SourceFile("meldcode.bpmn", raw)]


DEPLOY_BODY = {
    "application/xml": {"schema": {"type": "string", "description": "een BPMN-bestand"}},
    "text/xml": {"schema": {"type": "string", "description": "een BPMN-bestand"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"files": {
        "type": "array", "items": {"type": "string", "contentMediaType": "application/xml"},
        "description": "BPMN- en DMN-bestanden"}}}},
}


@endpoint("POST", "/processes", "Publiceer een nieuwe procesversie (procesbeheerder)",
          {200: (models.DeployedVersion, "identiek aan een bestaande versie, die (weer) actief is"),
           201: (models.DeployedVersion, "nieuwe versie, meteen actief")},
          refusals=(403, 413), own_refusals={422: DEPLOY_REFUSAL}, body=DEPLOY_BODY)
def deploy_process():
    # The upload is read (and its size checked) only once the engine knows the caller may deploy.
    deployed = process_admin.deploy(g.principal, _uploaded_files)
    return deployed, 201 if deployed["created"] else 200


ADMIN_LOG_PAGE = 1000  # lines per page of GET /api/v1/admin-log


@endpoint("GET", "/admin-log",
          "Het beheerlog: gebruikers, tokens, instellingen, publicaties, activeringen en "
          "verplaatsingen, per pagina van 1000 regels, oudste eerst; pagina 1 (standaard) de "
          "nieuwste, `page=2` de 1000 daarvoor, enzovoort (kop `Link` met rel=\"next\" bij een "
          "volle pagina); alleen auditors",
          {200: (list[models.AdminLogEntry], "beheerhandelingen")}, refusals=(403, 422),
          query=({"name": "page", "required": False,
                  "description": "1 (standaard): de nieuwste 1000 regels; 2: de 1000 daarvoor",
                  "schema": {"type": "integer", "minimum": 1, "default": 1}},))
def admin_log():
    """CONTRACT section 5: the admin log, auditors only (anyone else: a `refused` line, 403).
    ?page=N reaches every line, however many came after it (issue 11 point 4); a page that
    is no whole number of 1 or more is 422 at `page`."""
    via = accounts.Via(request.method, request.path)
    try:
        page = accounts.admin_log_page_number(request.args.get("page"))
    except Invalid:
        accounts.allowed(g.principal, AUDITOR, via)  # someone else: 403 (and its line) first
        raise
    rows = accounts.read_admin_log(g.principal, ADMIN_LOG_PAGE, via=via, page=page)
    if len(rows) == ADMIN_LOG_PAGE:  # a full page: older lines may follow
        link = f'<{url_for("api.admin_log", page=page + 1)}>; rel="next"'

        @after_this_request
        def _next_page(response: Response) -> Response:
            response.headers.add("Link", link)
            return response
    return rows


CATCH_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@bp.route("/<path:_rest>", methods=list(CATCH_ALL_METHODS))
def unknown(_rest):
    """Unknown API paths answer in JSON too, not with an HTML page. A path the API has, asked
    with a method it does not take, is 405 (RFC 9110 section 15.5.6: with an Allow header)
    with the one text of a method not allowed (METHOD_NOT_ALLOWED), not a 404."""
    return method_refusal()


def method_refusal() -> Response:
    """The answer to a request at an API path that no endpoint takes it at: 405 with the
    methods the path takes in Allow (documented as MethodNotAllowed in the OpenAPI document),
    or 404 when the API has no such path. `unknown` answers with it, and webui.web for a method
    that routing refuses before `unknown` is reached (TRACE, say), whose own Allow would name
    `unknown`'s methods."""
    allowed = allowed_methods()
    if allowed:
        response = error(405, HTTP_MESSAGES[405])
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return error(404, N_("Onbekend API-pad."))


def allowed_methods() -> list[str]:
    """The methods the request's path takes at an endpoint of the API other than `unknown`
    (empty: the API has no such path), with HEAD beside GET and OPTIONS as Flask answers
    them."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in CATCH_ALL_METHODS:
        try:
            name, _args = adapter.match(method=method)
        except HTTPException:  # NotFound, MethodNotAllowed, a redirect to a slashed path
            continue
        if name != "api.unknown":
            allowed.append(method)
    if not allowed:
        return []
    return sorted({*allowed, *(["HEAD"] if "GET" in allowed else []), "OPTIONS"})
