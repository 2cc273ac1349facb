"""The OpenAPI 3 document of /api/v1 (kept beside the views; a test checks they agree)."""

from __future__ import annotations

from functools import cache


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
}


def _id_param(name: str, kind: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _person_body(user_description: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["user", "reason"],
        "properties": {"user": {"type": "string", "description": user_description},
                       "reason": {"type": "string", "maxLength": 2000,
                                  "description": "waarom; komt in de geschiedenis"}},
        "additionalProperties": False}}}}


@cache
def openapi_document() -> dict:
    str_or_null = {"type": "string", "nullable": True}
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "errors": {"description": "per veld een melding (422)"},
            },
        },
        "Field": {
            "type": "object",
            "required": ["name", "label", "type", "required", "help"],
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "type": {"type": "string",
                         "enum": ["string", "text", "boolean", "enum", "date", "integer"]},
                "required": {"type": "boolean"},
                "options": {"type": "array", "items": {
                    "type": "object", "properties": {"value": {"type": "string"},
                                                     "label": {"type": "string"}}}},
                "help": {"type": "string"},
                "maxlength": {"type": "integer"},
                "required_when": {"type": "string",
                                  "description": "verplicht (en van toepassing) als deze "
                                                 "voorwaarde over de casusgegevens geldt"},
            },
        },
        "Task": {
            "type": "object",
            "required": ["id", "case_id", "step", "name", "lane"],
            "properties": {
                "id": {"type": "string"},
                "case_id": {"type": "integer"},
                "step": {"type": "string", "description": "BPMN element id"},
                "name": {"type": "string"},
                "lane": {"type": "string"},
                "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
                "ready_at": {"type": "string", "format": "date-time"},
                "form": {"type": "object", "properties": {
                    "fields": {"type": "array", "items": _ref("Field")}}},
            },
        },
        "Case": {
            "type": "object",
            "required": ["id", "status", "uitkomst", "process_version", "completed_steps",
                         "tasks"],
            "properties": {
                "id": {"type": "integer"},
                "client_ref": {"type": "string"},
                "reason": {"type": "string"},
                "status": {"type": "string", "enum": ["open", "closed"]},
                "uitkomst": {**str_or_null, "enum": [
                    None, "gemeld", "hulp", "gemeld_en_hulp", "zorgen_weggenomen",
                    "geen_vermoeden"]},
                "process_version": {"type": "integer"},
                "owner": {"type": "string"},
                "started_at": {"type": "string", "format": "date-time"},
                "closed_at": {**str_or_null, "format": "date-time"},
                "completed_steps": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "object", "description": "vastgelegde gegevens"},
                "tasks": {"type": "array", "items": _ref("Task")},
                "stalled_at": {**str_or_null, "format": "date-time", "description":
                               "sinds wanneer de casus vaststaat: open zonder taak en zonder "
                               "wachtende timer; null als zij verder kan"},
                "next_task": {**str_or_null, "description":
                              "alleen na het afronden van een taak: de taak die deze "
                              "gebruiker nu moet openen (de melding eerst bij acute "
                              "onveiligheid, anders dezelfde tak)"},
            },
        },
        "Event": {
            "type": "object",
            "required": ["seq", "at", "actor", "action", "step", "data"],
            "properties": {
                "seq": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string"},
                "action": {"type": "string", "description":
                           "case_started, task_completed, decision_made, case_closed, "
                           "case_handed_over (data: from, to, reason), "
                           "case_shared (data: with, reason), "
                           "case_stalled (data: waiting_at), case_migrated (data: from, to)"},
                "step": str_or_null,
                "task_id": str_or_null,
                "data": {"type": "object"},
                "hash": {"type": "string"},
            },
        },
        "ProcessVersion": {
            "type": "object",
            "required": ["version", "sha256", "deployed_at", "deployed_by", "active"],
            "properties": {
                "version": {"type": "integer"},
                "sha256": {"type": "string"},
                "deployed_at": {"type": "string", "format": "date-time"},
                "deployed_by": {"type": "string"},
                "active": {"type": "boolean"},
                "files": {"type": "array", "items": {"type": "string"}},
            },
        },
        "DeployedVersion": {
            "allOf": [_ref("ProcessVersion"), {"type": "object", "properties": {
                "created": {"type": "boolean", "description": "een nieuwe versie"},
                "reactivated": {"type": "boolean", "description":
                                "een bestaande versie met precies deze bestanden is weer actief"},
            }}],
        },
        "AccessEntry": {
            "type": "object",
            "required": ["at", "user", "role", "action", "outcome"],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "user": {"type": "string"},
                "role": {"type": "string"},
                "action": {"type": "string"},
                "outcome": {"type": "string", "enum": ["ok", "denied"]},
                "on_behalf_of": str_or_null,
                "source": str_or_null,
                "client_ref": str_or_null,
            },
        },
        "DeployProblem": {
            "type": "object",
            "required": ["file", "line", "message"],
            "properties": {
                "file": {"type": "string"}, "line": {"type": "integer"},
                "message": {"type": "string"},
                "path": {"type": "array", "description":
                         "bij een probleem uit het bewijs van alle routes: de getuigeroute, "
                         "de stappen in volgorde met de gegeven antwoorden",
                         "items": {"type": "object", "required": ["step", "data"],
                                   "properties": {"step": {"type": "string"},
                                                  "data": {"type": "object"}}}},
            },
        },
    }
    err = _ref("Error")
    responses = {
        "BadRequest": _json(err, "verzoek niet leesbaar"),
        "Unauthorized": _json(err, "geen of ongeldig token"),
        "Forbidden": _json(err, "niet toegestaan voor deze gebruiker"),
        "NotFound": _json(err, "onbekend"),
        "Conflict": _json(err, "taak staat niet meer open of gelijktijdige wijziging"),
        "TooLarge": _json(err, "te groot (JSON boven 1 MiB, deploy boven 5 MiB)"),
        "Invalid": _json(err, "ongeldige gegevens; errors per veld"),
    }
    paths = {
        "/api/v1/openapi.json": {"get": {
            "summary": "Dit document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3-document"}}}},
        "/api/v1/cases": {"post": {
            "summary": "Start een casus",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["client_ref"],
                "properties": {"client_ref": {"type": "string", "maxLength": 200},
                               "reason": {"type": "string", "maxLength": 2000}},
                "additionalProperties": False}}}},
            "responses": {"201": _json(_ref("Case"), "de nieuwe casus"), **_ERR,
                          "409": {"$ref": "#/components/responses/Conflict"},
                          "413": {"$ref": "#/components/responses/TooLarge"},
                          "422": {"$ref": "#/components/responses/Invalid"}}}},
        "/api/v1/cases/{id}": {"get": {
            "summary": "Een casus", "parameters": [_id_param("id", "integer")],
            "responses": {"200": _json(_ref("Case"), "de casus"), **_ERR}}},
        "/api/v1/cases/{id}/handover": {"post": {
            "summary": "Draag een open casus over aan een collega (eigenaar of diens "
                       "leidinggevende); de nieuwe eigenaar rondt de medewerkerstaken af",
            "parameters": [_id_param("id", "integer")],
            "requestBody": _person_body("gebruikersnaam van de nieuwe eigenaar (medewerker, "
                                        "leidinggevende of aandachtsfunctionaris)"),
            "responses": {"200": _json(_ref("Case"), "de casus met de nieuwe eigenaar"), **_ERR,
                          "409": {"$ref": "#/components/responses/Conflict"},
                          "413": {"$ref": "#/components/responses/TooLarge"},
                          "422": {"$ref": "#/components/responses/Invalid"}}}},
        "/api/v1/cases/{id}/shares": {"post": {
            "summary": "Deel een open casus met een aandachtsfunctionaris, die haar dan mag "
                       "inzien (eigenaar of diens leidinggevende)",
            "parameters": [_id_param("id", "integer")],
            "requestBody": _person_body("gebruikersnaam van de aandachtsfunctionaris"),
            "responses": {"200": _json(_ref("Case"), "de casus"), **_ERR,
                          "409": {"$ref": "#/components/responses/Conflict"},
                          "413": {"$ref": "#/components/responses/TooLarge"},
                          "422": {"$ref": "#/components/responses/Invalid"}}}},
        "/api/v1/cases/{id}/history": {"get": {
            "summary": "De geschiedenis van een casus, oudste eerst",
            "parameters": [_id_param("id", "integer")],
            "responses": {"200": _json({"type": "array", "items": _ref("Event")}, "events"),
                          **_ERR}}},
        "/api/v1/cases/{id}/verify": {"get": {
            "summary": "Controleer de geschiedenisketen en speel de casus opnieuw af",
            "parameters": [_id_param("id", "integer")],
            "responses": {"200": _json({"type": "object", "required": ["ok", "events", "problems"],
                                        "properties": {
                                            "ok": {"type": "boolean"},
                                            "events": {"type": "integer"},
                                            "problems": {"type": "array",
                                                         "items": {"type": "string"}}}},
                                       "oordeel"), **_ERR}}},
        "/api/v1/cases/{id}/access-log": {"get": {
            "summary": "Wie heeft deze casus ingezien of gewijzigd (NEN 7513); alleen auditors",
            "parameters": [_id_param("id", "integer")],
            "responses": {"200": _json({"type": "array", "items": _ref("AccessEntry")},
                                       "toegangslog, oudste eerst"), **_ERR}}},
        "/api/v1/tasks": {"get": {
            "summary": "De open taken die deze gebruiker mag afronden",
            "responses": {"200": _json({"type": "array", "items": _ref("Task")}, "taken"),
                          "401": _ERR["401"]}}},
        "/api/v1/tasks/{id}": {"get": {
            "summary": "Een taak met haar formulier", "parameters": [_id_param("id")],
            "responses": {"200": _json(_ref("Task"), "de taak"), **_ERR}}},
        "/api/v1/tasks/{id}/complete": {"post": {
            "summary": "Rond een taak af", "parameters": [_id_param("id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "object"}}, "additionalProperties": False}}}},
            "responses": {"200": _json(_ref("Case"), "de casus na afronden"), **_ERR,
                          "409": {"$ref": "#/components/responses/Conflict"},
                          "413": {"$ref": "#/components/responses/TooLarge"},
                          "422": {"$ref": "#/components/responses/Invalid"}}}},
        "/api/v1/processes": {
            "get": {
                "summary": "Alle procesversies (procesbeheerder, beheerder, auditor)",
                "responses": {"200": _json({"type": "array", "items": _ref("ProcessVersion")},
                                           "versies"), "401": _ERR["401"],
                              "403": _ERR["403"]}},
            "post": {
                "summary": "Publiceer een nieuwe procesversie (procesbeheerder)",
                "requestBody": {"required": True, "content": {
                    "application/xml": {"schema": {"type": "string"}},
                    "text/xml": {"schema": {"type": "string"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "files": {"type": "array",
                                  "items": {"type": "string", "format": "binary"}}}}}}},
                "responses": {
                    "200": _json(_ref("DeployedVersion"), "identiek aan een bestaande versie, "
                                 "die (weer) actief is"),
                    "201": _json(_ref("DeployedVersion"), "nieuwe versie, meteen actief"),
                    "400": _ERR["400"], "401": _ERR["401"], "403": _ERR["403"],
                    "413": {"$ref": "#/components/responses/TooLarge"},
                    "422": _json({"type": "object", "properties": {
                        "error": {"type": "string"},
                        "errors": {"type": "array", "items": _ref("DeployProblem")}}},
                        "niet publiceerbaar; niets gepubliceerd")}}},
        "/api/v1/admin-log": {"get": {
            "summary": "Het beheerlog: gebruikers, tokens, instellingen, publicaties, activeringen "
                       "en verplaatsingen, oudste eerst (de nieuwste 1000); alleen auditors",
            "responses": {"200": _json({"type": "array", "items": {
                "type": "object", "required": ["at", "user", "action", "detail"],
                "properties": {"at": {"type": "string", "format": "date-time"},
                               "user": {"type": "string"},
                               "action": {"type": "string"},
                               "detail": {"type": "object",
                                          "description": "de feiten van de handeling; nooit "
                                                         "een wachtwoord of token"}}}},
                "beheerhandelingen"), "401": _ERR["401"], "403": _ERR["403"]}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Meldcode API", "version": "1",
                 "description": "De meldcode huiselijk geweld en kindermishandeling."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
