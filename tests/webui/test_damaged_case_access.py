"""Issue 11: access first, then damage. A request on a case stored damaged was answered 409 with
the damaged fields to anyone who asked, also to a user who may not read the case. Now only a
reader of the case (CONTRACT section 2: its owner, an auditor, the owner's leidinggevende)
gets the 409 with the details; another medewerker gets the 403 of any case they may not read,
without details, and the refusal is in the access log (outcome denied).

SQLite keeps bytes that are no UTF-8 in cases.status: the case row does not load at all, so
access is decided from what of the row reads (engine/case_access.py). PostgreSQL refuses
such bytes; a status no product writes loads as damaged there and fails when the API answers.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text as sql

from engine import cases, store, tasks
from tests.helpers import Client, text
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, fill

DAMAGE = {
    "sqlite": "UPDATE cases SET status = CAST(X'ff41' AS TEXT) WHERE id = :c",
    "postgresql": "UPDATE cases SET status = 'bogus' WHERE id = :c",
}
# what a reader gets per route and database: the page of a case whose row does not load is
# 409 (SQLite); on PostgreSQL the row loads with the status read as damaged, and page and API
# both open with the damage named (24faff4: a read door opens, `damaged` in the API's answer)
READER = {
    ("sqlite", "page"): 409,
    ("sqlite", "api"): 409,
    ("postgresql", "page"): 200,
    ("postgresql", "api"): 200,
}
DETAILS = ("beschadigd opgeslagen", "cases.status")
REFUSED = "U heeft geen toegang tot deze casus."


@pytest.fixture
def damaged(people, db_url):
    """A case of mw (whose leidinggevende is lg) past its first step, stored damaged."""
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    first = tasks.get_task(mw, case["tasks"][0]["id"])
    case = tasks.complete_task(mw, first["id"], fill(first["form"]["fields"], LONGEST.decisions))
    write(db_url, DAMAGE[db_url.split(":")[0].split("+")[0]], c=case["id"])
    return case


def denied_lines(case_id: int, user: str) -> list[str]:
    with store.unit_of_work() as session:
        return list(
            session.execute(
                sql(
                    'SELECT action FROM access_log WHERE case_id = :c AND "user" = :u '
                    "AND outcome = 'denied' ORDER BY id"
                ),
                {"c": case_id, "u": user},
            ).scalars()
        )


def ask(app, people, who: str, route: str, case_id: int, task_id: str | None = None):
    if route == "api":
        path = f"/api/v1/tasks/{task_id}" if task_id else f"/api/v1/cases/{case_id}"
        return app.test_client().get(path, headers=people.auth(who))
    browser = Client(app)
    browser.login(who)
    return browser.http.get(
        f"/taken/{task_id}" if task_id else f"/casussen/{case_id}", base_url="http://localhost"
    )


@pytest.mark.parametrize("route", ["page", "api"])
def test_only_a_reader_of_the_case_gets_what_is_damaged(app, people, db_url, damaged, route):
    base = db_url.split(":")[0].split("+")[0]
    # the owner, an auditor and the owner's leidinggevende read the case: the damage is named
    for who in ("mw", "aud", "lg"):
        response = ask(app, people, who, route, damaged["id"])
        assert response.status_code == READER[(base, route)], (who, text(response)[:600])
        if response.status_code == 409:
            assert all(part in text(response) for part in DETAILS), text(response)[:600]
        elif route == "api":
            assert "status" in response.get_json()["damaged"], text(response)[:600]
        assert denied_lines(damaged["id"], who) == []
    # another medewerker: the 403 of any case they may not read, no details, logged
    response = ask(app, people, "mw2", route, damaged["id"])
    assert response.status_code == 403, text(response)[:600]
    body = text(response)
    assert REFUSED in body, body[:600]
    assert not any(part in body for part in DETAILS) and "Gegevens beschadigd" not in body, body[:600]
    assert denied_lines(damaged["id"], "mw2") == ["read"]


@pytest.mark.parametrize("route", ["page", "api"])
def test_a_task_of_a_damaged_case_is_refused_to_another_medewerker(app, people, db_url, route):
    """A task row that does not load (SQLite: bytes in its state): the task's case decides."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses these bytes itself")
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    task_id = case["tasks"][0]["id"]
    write(db_url, "UPDATE tasks SET state = CAST(X'ff41' AS TEXT) WHERE id = :t", t=task_id)
    refused = ask(app, people, "mw2", route, case["id"], task_id)
    assert refused.status_code == 403, text(refused)[:600]
    assert REFUSED in text(refused) and "beschadigd" not in text(refused)
    assert denied_lines(case["id"], "mw2") == ["read_task"]
    owner = ask(app, people, "mw", route, case["id"], task_id)
    assert owner.status_code == 409 and "beschadigd opgeslagen" in text(owner), text(owner)[:600]
