"""The JSON API of CONTRACT section 4: /api/v1."""

from __future__ import annotations

import json
import re
from functools import wraps

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import cases, commands, definitions, dossier, process_admin, sharing, tasks, tokens, verification
from engine.errors import BadRequest, DomainError, Forbidden, Invalid, NotAuthenticated
from engine.roles import AUDITOR
from engine.store import unit_of_work

from .. import DEPLOY_LIMIT, JSON_LIMIT
from ..texts import translate, translate_all
from .openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, message: str, **extra):
    body = {"error": message, **extra}
    return jsonify(body), status


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    extra = dict(exc.extra)
    if isinstance(exc, Invalid):
        extra["errors"] = exc.errors
    # Dutch unless the client asks for English (extensions.select_locale)
    return error(exc.status, translate(exc.message), **translate_all(extra))


@bp.errorhandler(definitions.InvalidDefinition)
def _invalid_definition(exc):
    return error(422, "Het proces kan niet worden gepubliceerd.",
                 errors=[p.as_dict() for p in exc.problems])


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    messages = {
        404: "Niet gevonden.",
        405: "Deze methode is hier niet toegestaan.",
        413: "Het verzoek is te groot.",
        400: "Ongeldig verzoek.",
        500: "Er ging iets mis aan onze kant. Probeer het later opnieuw.",
    }
    return error(exc.code or 500, messages.get(exc.code, exc.description or "Fout."))


def source_address() -> str | None:
    return (request.remote_addr or "")[:100] or None


def token_auth(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Geen of ongeldig token.")
        principal = tokens.principal_for_token(token.strip(), source_address())
        if principal is None:
            raise NotAuthenticated("Geen of ongeldig token.")
        g.principal = principal
        return fn(*args, **kwargs)

    return wrapper


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
        raise BadRequest("De body is geen geldige JSON.") from None
    return _checked(value, form_key)


MAX_JSON_DEPTH = 32  # far beyond any request of CONTRACT section 4 (a form answer is depth 3)


def _checked(value, form_key: str | None = None):
    """The parsed body when it can be stored on every database; else BadRequest (nested too
    deep: it would exhaust the stack of whatever walks it next) or Invalid naming the field
    of a NUL character (PostgreSQL text cannot hold it; CONTRACT section 4: 422 by field).
    Walks without recursion, so any depth is safe here."""
    todo = [(value, 1, ())]
    while todo:
        item, depth, path = todo.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"De JSON is te diep genest (maximaal {MAX_JSON_DEPTH} niveaus).")
        nul_matters = not path or path[0] != form_key
        if isinstance(item, dict):
            for key, inner in item.items():
                if nul_matters and _unstorable(key):
                    raise _nul_in((*path, key))
                todo.append((inner, depth + 1, (*path, key)))
        elif isinstance(item, list):
            todo.extend((inner, depth + 1, path) for inner in item)
        elif nul_matters and isinstance(item, str) and _unstorable(item):
            raise _nul_in(path)
    return value


# A lone surrogate ("\ud800" in JSON) is no character: no database stores it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(text: str) -> bool:
    return "\x00" in text or _SURROGATE.search(text) is not None


def _nul_in(path: tuple[str, ...]) -> Invalid:
    # The form field the client knows: {"data": {"field": ...}} names "field".
    name = path[1] if len(path) > 1 and path[0] == "data" else (path[0] if path else "body")
    name = _SURROGATE.sub("\ufffd", name.replace("\x00", "\\u0000"))[:100]
    return Invalid("Een tekst bevat een ongeldig teken (NUL of een losse surrogaat).",
                   {name: "Bevat een ongeldig teken (NUL of een losse surrogaat)."})


class _TooLarge(DomainError):
    status = 413

    def __init__(self, limit: str = "1 MiB"):
        super().__init__(f"Het verzoek is te groot (maximaal {limit}).")


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/cases")
@token_auth
def start_case():
    payload = json_body()
    if not isinstance(payload, dict):
        raise BadRequest("Verwacht een JSON-object.")
    return jsonify(cases.start_case(g.principal, payload)), 201


@bp.get("/cases/<case_id>")
@token_auth
def get_case(case_id):
    return jsonify(cases.get_case(g.principal, case_id))


@bp.post("/cases/<case_id>/handover")
@token_auth
def hand_over(case_id):
    with commands.refusals_logged(g.principal, case_id, "hand_over"):
        return jsonify(sharing.hand_over(g.principal, case_id, json_body()))


@bp.post("/cases/<case_id>/shares")
@token_auth
def share(case_id):
    with commands.refusals_logged(g.principal, case_id, "share"):
        return jsonify(sharing.share(g.principal, case_id, json_body()))


@bp.get("/cases/<case_id>/history")
@token_auth
def case_history(case_id):
    return jsonify(cases.history(g.principal, case_id))


@bp.get("/cases/<case_id>/verify")
@token_auth
def verify_case(case_id):
    return jsonify(verification.verify(g.principal, case_id))


@bp.get("/cases/<case_id>/access-log")
@token_auth
def case_access_log(case_id):
    return jsonify(dossier.access_log(g.principal, case_id))


@bp.get("/tasks")
@token_auth
def list_tasks():
    return jsonify(tasks.ready_tasks(g.principal))


@bp.get("/tasks/<task_id>")
@token_auth
def get_task(task_id):
    return jsonify(tasks.get_task(g.principal, task_id))


@bp.post("/tasks/<task_id>/complete")
@token_auth
def complete_task(task_id):
    payload = json_body(form_key="data")
    if not isinstance(payload, dict):
        raise BadRequest("Verwacht een JSON-object met 'data'.")
    unknown = [k for k in payload if k != "data"]
    if unknown:
        raise Invalid("Onbekende sleutel in het verzoek.",
                      {str(k)[:100]: "Onbekend veld." for k in unknown})
    if "data" not in payload:
        raise Invalid("'data' ontbreekt.", {"data": "Dit veld is verplicht."})
    return jsonify(tasks.complete_task(g.principal, task_id, payload["data"]))


def _require(*roles):
    if not g.principal.has_role(*roles):
        raise Forbidden("U heeft hiervoor niet de juiste rol.")


@bp.get("/processes")
@token_auth
def list_processes():
    return jsonify(process_admin.list_versions(g.principal))


def _uploaded_files() -> list[definitions.SourceFile]:
    length = request.content_length
    if length is not None and length > DEPLOY_LIMIT:
        raise _TooLarge("5 MiB")
    if request.mimetype == "multipart/form-data":
        parts = request.files.getlist("files")
        if not parts:
            raise BadRequest("Geen bestanden: stuur BPMN/DMN als delen met de naam 'files'.")
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
        raise BadRequest("Lege body: stuur een BPMN-bestand.")
    return [definitions.SourceFile("meldcode.bpmn", raw)]


@bp.post("/processes")
@token_auth
def deploy_process():
    # The upload is read (and its size checked) only once the engine knows the caller may deploy.
    deployed = process_admin.deploy(g.principal, _uploaded_files)
    return jsonify(deployed), 201 if deployed["created"] else 200


@bp.get("/admin-log")
@token_auth
def admin_log():
    """CONTRACT section 5: the admin log, auditors only."""
    from engine import audit

    _require(AUDITOR)
    with unit_of_work() as session:
        return jsonify(audit.admin_log(session))


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(_rest):
    """Unknown API paths answer in JSON too, not with an HTML page."""
    return error(404, "Onbekend API-pad.")
