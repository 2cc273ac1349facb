"""The OpenAPI 3.1 document of /api/v1, generated, never written by hand.

Each view declares its operation where it is routed (webui/api: `endpoint`): the summary, the
model of each answer by status, the refusals it can give and its request body. The paths come
from those declarations, the schemas (JSON Schema 2020-12) from the models of models.py that
also serialise the answers; a test lays real answers of every endpoint against this document
(tests/webui/test_openapi_responses.py).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from . import models

PREFIX = "/api/v1"
SCHEMAS = "#/components/schemas/"

# The refusals of CONTRACT section 4, each a shared response of the document.
REFUSALS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "verzoek niet leesbaar (geen JSON, te diep genest, een NUL-teken in "
                        "pad, query of header)"),
    401: ("Unauthorized", "geen of ongeldig token"),
    403: ("Forbidden", "niet toegestaan voor deze gebruiker"),
    404: ("NotFound", "onbekend"),
    # Named by every operation: OpenAPI has no place for the answer of a method a path lacks.
    405: ("MethodNotAllowed", "een methode die dit pad niet neemt (een andere dan de methoden "
                              "die dit document bij het pad noemt); de kop `Allow` noemt die"),
    409: ("Conflict", "taak staat niet meer open, casus gesloten of gelijktijdige wijziging"),
    413: ("TooLarge", "te groot (JSON boven 1 MiB, deploy boven 5 MiB)"),
    422: ("Invalid", "ongeldige gegevens; errors per veld"),
    503: ("Unavailable", "de database is bezig: een schrijvende actie wachtte langer dan "
                         "MELDCODE_WRITE_LOCK_TIMEOUT op haar beurt (SQLite); probeer het zo "
                         "opnieuw"),
}

# A 405 names the methods its path takes (RFC 9110 section 15.5.6; webui/api: `unknown`).
ALLOW = {"description": "de methoden van dit pad, met HEAD bij GET en OPTIONS, bijvoorbeeld "
                        "`GET, HEAD, OPTIONS`", "schema": {"type": "string"}}

# Path parameters by their name in the Flask rule; the document calls each one `id`.
PATH_IDS = {"case_id": {"type": "integer"}, "task_id": {"type": "string"},
            "notification_id": {"type": "integer"}}


class Reply:
    """One answer of an operation: the type it is serialised through and what it means. The
    TypeAdapter is built once, when the view is declared."""

    def __init__(self, shape: Any, description: str):
        self.shape = shape
        self.description = description
        self.adapter = TypeAdapter(shape)

    def dump(self, value: Any) -> Any:
        """The engine's value checked against the shape (pydantic.ValidationError when it does
        not fit: a bug) and serialised as JSON types."""
        return self.adapter.dump_python(self.adapter.validate_python(value), mode="json")

    def json(self, value: Any) -> bytes:
        """As dump, written as JSON text (UTF-8, a newline at the end as Flask's jsonify
        writes it): pydantic writes it faster than the json module would the plain dict."""
        return self.adapter.dump_json(self.adapter.validate_python(value)) + b"\n"


ERROR = Reply(models.Error, "een weigering")


@dataclass
class Operation:
    method: str  # "GET", "POST"
    rule: str  # the Flask rule within the blueprint: "/cases/<case_id>"
    name: str  # the view's name: the operationId, and the endpoint api.<name>
    summary: str
    replies: dict[int, Reply]  # the answers that are no refusal, by status
    refusals: dict[int, Reply] = field(default_factory=dict)  # 4xx, by status
    body: type[BaseModel] | dict[str, Any] | None = None  # a model (JSON) or content by type
    auth: bool = True
    # query parameters: OpenAPI parameter objects without "in" (added: "query")
    query: tuple[dict[str, Any], ...] = ()

    @property
    def path(self) -> str:
        return PREFIX + re.sub(r"<(?:[^:>]+:)?[^>]+>", "{id}", self.rule)

    @property
    def status(self) -> int:
        """The status of an answer a view gives without one."""
        return min(self.replies)


OPERATIONS: list[Operation] = []


def declare(operation: Operation) -> Operation:
    OPERATIONS.append(operation)
    openapi_document.cache_clear()
    return operation


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema without a title per property ("Client Ref"): a property is
    named by its key; its meaning, where the key does not say it, is its description."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


def _written_out(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A response's schema with its own model (or a list's item model) written out, the models
    within it by reference: a reader sees an answer's keys where the answer is described."""
    def model(s):
        ref = s.get("$ref", "")
        return copy.deepcopy(schemas[ref.removeprefix(SCHEMAS)]) if ref.startswith(SCHEMAS) else s

    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return {**schema, "items": model(schema["items"])}
    return model(schema)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@cache
def openapi_document() -> dict[str, Any]:
    inputs: list[tuple[tuple[str, int], JsonSchemaMode, TypeAdapter[Any]]] = [
        (("reply", id(r)), "serialization", r.adapter)
        for op in OPERATIONS for r in [*op.replies.values(), *op.refusals.values()]]
    inputs.append((("reply", id(ERROR)), "serialization", ERROR.adapter))
    inputs += [(("body", id(op)), "validation", TypeAdapter(op.body))
               for op in OPERATIONS if isinstance(op.body, type)]
    by_key, definitions = TypeAdapter.json_schemas(
        inputs, ref_template=SCHEMAS + "{model}", schema_generator=_Schemas)
    schemas = definitions.get("$defs", {})

    def schema_of(reply: Reply) -> dict[str, Any]:
        return _written_out(by_key[(("reply", id(reply)), "serialization")], schemas)

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {
            str(status): _json(schema_of(reply), reply.description) if reply.shape is not None
            else {"description": reply.description}  # no content (204)
            for status, reply in sorted(op.replies.items())}
        for status, reply in sorted(op.refusals.items()):
            responses[str(status)] = (
                {"$ref": f"#/components/responses/{REFUSALS[status][0]}"} if reply is ERROR
                else _json(schema_of(reply), reply.description))
        operation: dict[str, Any] = {"summary": op.summary, "operationId": op.name,
                                     "responses": responses}
        if not op.auth:
            operation["security"] = []
        names = re.findall(r"<(?:[^:>]+:)?([^>]+)>", op.rule)
        parameters = [{"name": "id", "in": "path", "required": True,
                       "schema": PATH_IDS[name]} for name in names]
        parameters += [{**param, "in": "query"} for param in op.query]
        if parameters:
            operation["parameters"] = parameters
        if isinstance(op.body, type):
            schema = _written_out(by_key[(("body", id(op)), "validation")], schemas)
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": schema}}}
        elif op.body is not None:
            operation["requestBody"] = {"required": True, "content": op.body}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Meldcode API", "version": "1",
                 "description": "De meldcode huiselijk geweld en kindermishandeling."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {name: {**_json({"$ref": SCHEMAS + "Error"}, description),
                                 **({"headers": {"Allow": ALLOW}} if status == 405 else {})}
                          for status, (name, description) in REFUSALS.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
