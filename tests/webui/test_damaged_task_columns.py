"""Issue 11: a tasks row holding a value no product writes. tasks.state = 'bogus' made GET
/api/v1/tasks/{id} a pydantic 500 (TaskDetail), the task page said the step was already done,
and verify said nothing; SQLite's 'x' in tasks.urgent read as yes. Now every column of the
tasks table reads a damaged value as a marker (state: StoredCode, urgent: StoredFlag, seal:
StoredText; the others already were): the API answers null beside `damaged` (the OpenAPI
document allows null there only beside it), the task page says 'beschadigd' (409, Dutch),
verify --all names the column in Dutch (exit 1), and a completion or a draft on the task is
refused with the Dutch 409 before anything is stored."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import text as sql

from engine import cases, store, tasks
from tests.helpers import Client, text, verify_all
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, fill

# column, value as SQL, the databases that keep it, what verify and the API say
DAMAGE = {
    "state-bogus": ("state", "'bogus'", ("sqlite", "postgresql"), "geen bekende waarde ('bogus')"),
    "urgent-text": ("urgent", "'x'", ("sqlite",), "geen ja/nee-waarde ('x')"),
    "urgent-two": ("urgent", "2", ("sqlite",), "geen ja/nee-waarde"),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, people, db_url):
    column, value, kinds, said = DAMAGE[request.param]
    if db_url.split(":")[0].split("+")[0] not in kinds:
        pytest.skip("this database refuses the value itself")
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    task_id = case["tasks"][0]["id"]
    answers = fill(tasks.get_task(mw, task_id)["form"]["fields"], LONGEST.decisions)
    write(db_url, f"UPDATE tasks SET {column} = {value} WHERE id = :t", t=task_id)
    return case["id"], task_id, column, said, answers


def stored(case_id: int) -> tuple:
    with store.unit_of_work() as session:
        return tuple(
            session.execute(
                sql(f"SELECT count(*) FROM {table} WHERE {key} = :c"), {"c": case_id}
            ).scalar_one()
            for table, key in (("history_events", "case_id"), ("tasks", "case_id"), ("access_log", "case_id"))
        ) + (session.execute(sql("SELECT count(*) FROM drafts")).scalar_one(),)


def test_the_api_answers_null_beside_damaged(app, people, damaged):
    case_id, task_id, column, said, _answers = damaged
    response = app.test_client().get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw"))
    assert response.status_code == 200, text(response)[:800]
    body = response.get_json()
    assert body[column] is None, body
    assert f"{column}: {said}" in body["damaged"], body


def fits(app, body: dict) -> list[str]:
    """What is wrong with `body` as the 200 of GET /api/v1/tasks/{id} by the served document."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    ref = "urn:meldcode:openapi#/paths/~1api~1v1~1tasks~1{id}/get/responses/200"
    registry = Registry().with_resource("urn:meldcode:openapi", DRAFT202012.create_resource(document))
    validator = Draft202012Validator({"$ref": f"{ref}/content/application~1json/schema"}, registry=registry)
    return [error.message for error in validator.iter_errors(body)]


def test_the_document_allows_null_only_beside_damaged(app, people, damaged):
    case_id, task_id, column, said, _answers = damaged
    # the real answer fits the document; without `damaged` the same null does not
    body = app.test_client().get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw")).get_json()
    assert fits(app, body) == [], body
    assert fits(app, {k: v for k, v in body.items() if k != "damaged"}) != []


def test_the_task_page_says_beschadigd(app, damaged):
    case_id, task_id, column, said, _answers = damaged
    browser = Client(app)
    browser.login("mw")
    page = browser.http.get(f"/taken/{task_id}", base_url="http://localhost")
    body = text(page)
    assert page.status_code == 409, body[:800]
    assert f"De gegevens van casus {case_id} zijn beschadigd opgeslagen" in body, body[:800]
    assert f"tasks.{column}" in body, body[:800]


def test_verify_names_it(damaged):
    case_id, task_id, column, said, _answers = damaged
    code, output = verify_all()
    assert code == 1, output
    assert f"casus {case_id}: NIET IN ORDE" in output, output
    assert f"beschadigd opgeslagen: {column}: {said}" in output, output


def test_a_completion_and_a_draft_are_refused(app, people, damaged):
    case_id, task_id, column, said, answers = damaged
    before = stored(case_id)
    done = app.test_client().post(
        f"/api/v1/tasks/{task_id}/complete", json={"data": answers}, headers=people.auth("mw")
    )
    assert done.status_code == 409, text(done)[:800]
    assert f"De gegevens van casus {case_id} zijn beschadigd opgeslagen" in text(done), text(done)
    assert f"tasks.{column}" in text(done), text(done)
    browser = Client(app)
    browser.login("mw")
    draft = browser.post(f"/taken/{task_id}", {"actie": "concept"})
    assert draft.status_code == 409, text(draft)[:800]
    assert f"De gegevens van casus {case_id} zijn beschadigd opgeslagen" in text(draft), text(draft)[:800]
    # no event, task row or draft more (the refusals are in the access log)
    after = stored(case_id)
    assert after[:2] == before[:2] and after[3] == before[3], (before, after)


def test_the_inbox_and_the_case_page_say_spoed_beschadigd(app, damaged):
    case_id, task_id, column, said, _answers = damaged
    if column != "urgent":
        pytest.skip("a task that is not ready is in no list")
    browser = Client(app)
    browser.login("mw")
    for path in ("/", f"/casussen/{case_id}"):
        page = browser.get(path)
        body = text(page)
        assert page.status_code == 200, (path, body[:800])
        assert "spoed beschadigd" in body and "niet als ja of nee opgeslagen" in body, (path, body[:2000])
        assert "Spoed: acute onveiligheid" not in body, (path, body[:2000])
