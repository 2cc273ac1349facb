"""Every refusal of the engine is worded from the catalogues (issue 12, point 4): its message
and each of its field errors is a Message (engine/messages.N_), which the web layer puts in the
reader's language. A plain str is passed through as it is, so an English reader would read the
Dutch: the handover to the colleague who already owns the case and the 503 of a busy database
were such texts; the OpenAPI document names the 503 too. The last test holds every refusal
raised in engine/ to the rule."""

from __future__ import annotations

import ast
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from engine import errors
from tests.helpers import english, text, write_lock_held

ENGINE = Path(__file__).resolve().parents[2] / "engine"
DOCUMENT = "urn:meldcode:openapi"


def test_handing_a_case_to_its_own_owner_is_refused_in_the_readers_language(
        browser_like, sqlite_people, ui_app):
    mw = english(browser_like, "mw")
    assert mw.post("/casussen/nieuw", {"client_ref": "C-eigen"}).status_code == 302
    page = mw.post("/casussen/1/overdragen", {"user": "mw", "reason": "Vakantie"})
    assert page.status_code == 422
    assert "This colleague already owns the case." in text(page)
    assert "Deze collega is al eigenaar." not in text(page)

    api = ui_app.test_client()
    body = {"user": "mw", "reason": "Vakantie"}
    r = api.post("/api/v1/cases/1/handover", json=body,
                 headers={**sqlite_people.auth("mw"), "Accept-Language": "en"})
    assert r.status_code == 422
    assert r.get_json()["errors"] == {"user": "This colleague already owns the case."}
    # Dutch stays the API's default
    r = api.post("/api/v1/cases/1/handover", json=body, headers=sqlite_people.auth("mw"))
    assert r.get_json()["errors"] == {"user": "Deze collega is al eigenaar."}


def test_a_busy_database_is_said_in_the_readers_language(browser_like, sqlite_people, ui_app,
                                                         monkeypatch):
    mw = english(browser_like, "mw")
    monkeypatch.setenv("MELDCODE_WRITE_LOCK_TIMEOUT", "0.3")
    with write_lock_held():
        page = mw.post("/casussen/nieuw", {"client_ref": "C-wacht"})
        r = ui_app.test_client().post("/api/v1/cases", json={"client_ref": "C-wacht"}, headers={
            **sqlite_people.auth("mw"), "Accept-Language": "en"})
    assert page.status_code == 503 and r.status_code == 503
    assert "The database is busy; please try again in a moment." in text(page)
    assert r.get_json()["error"] == "The database is busy; please try again in a moment."
    # ... and the OpenAPI document names that answer, with the body it has
    document = ui_app.test_client().get("/api/v1/openapi.json").get_json()
    declared = document["paths"]["/api/v1/cases"]["post"]["responses"].get("503")
    assert declared is not None, "POST /api/v1/cases answers 503 but the document omits it"
    registry = Registry().with_resource(DOCUMENT, DRAFT202012.create_resource(document))
    schema = {"$ref": f"{DOCUMENT}{declared['$ref']}/content/application~1json/schema"}
    assert not list(Draft202012Validator(schema, registry=registry).iter_errors(r.get_json()))
    # every endpoint a token holder calls may answer it
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert ("503" in operation["responses"]) == (operation.get("security") != []), (
                method, path)


def _refusal_classes() -> set[str]:
    """The names of DomainError and of every subclass the engine defines."""
    names = {"DomainError"} | {c.__name__ for c in _subclasses(errors.DomainError)}
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", None)) in names for b in node.bases):
                names.add(node.name)
    return names


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def _plain_text(node: ast.AST) -> bool:
    """A literal text (or an f-string) that reaches a reader as it is: no Message."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str))


# Refusals only an operator reads, on the command line or in the server's log when it will not
# start (the command line speaks Dutch, README): a key that is empty or too short.
OPERATOR_ONLY = {"KeyRefused"}


def test_every_refusal_of_the_engine_is_a_message_of_the_catalogues():
    """The message (first argument, or a subclass's own super().__init__ text) and the field
    errors (a dict literal) of every refusal raised in engine/."""
    refusals = _refusal_classes()
    found = []
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if cls.name not in refusals or cls.name in OPERATOR_ONLY:
                continue
            # a subclass's own text: super().__init__("...")
            for call in (n for n in ast.walk(cls) if isinstance(n, ast.Call)):
                if (isinstance(call.func, ast.Attribute) and call.func.attr == "__init__"
                        and call.args and _plain_text(call.args[0])):
                    found.append(f"{path.name}:{call.lineno}: {ast.unparse(call.args[0])}")
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = getattr(call.func, "id", getattr(call.func, "attr", None))
            if name not in refusals or name in OPERATOR_ONLY:
                continue
            texts = [call.args[0]] if call.args else []
            # field errors: a dict literal given to the refusal
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(arg, ast.Dict):
                    texts += arg.values
            found += [f"{path.name}:{call.lineno}: {ast.unparse(t)}" for t in texts
                      if _plain_text(t)]
    assert not found, f"refusals with a plain text instead of N_(...)/Message: {found}"
