"""Issue 11: a JSON column holding JSON null (a database writer's 'null' where an object or a
list of texts is stored) read as None, and the case page, the task page, the API and a
completion failed on it ("TypeError: 'NoneType' object is not iterable", a 500). Now every
StoredJSON column (cases.data and completed_steps, history_events.data, drafts.data,
notifications.params) reads it as DamagedData / DamagedList, as it reads JSON of another shape:
the pages and the API open and say what is damaged, verify --all names it in Dutch (exit 1),
and a completion on such a case is refused with the Dutch 409, nothing stored. SQLite and
PostgreSQL both keep the text 'null' in a JSON column."""

from __future__ import annotations

import pytest

from engine import consults, drafts, tasks
from tests.helpers import Client, text, verify_all
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, fill

SHAPE = "geen object (JSON) maar een andere waarde"
LIST_SHAPE = "geen lijst van teksten (JSON) maar een andere waarde"


@pytest.fixture
def case(people):
    """A case of mw past its first step with a consult asked (a notification for af) and a
    draft of its next task."""
    from engine import cases

    mw = people["mw"]
    started = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    first = tasks.get_task(mw, started["tasks"][0]["id"])
    done = tasks.complete_task(mw, first["id"], fill(first["form"]["fields"], LONGEST.decisions))
    consults.request(mw, done["id"], {"user": "af", "question": "Wat nu?"})
    task = next(t for t in done["tasks"] if t["lane"] == "medewerker")
    drafts.save(mw, task["id"], {})
    answers = fill(tasks.get_task(mw, task["id"])["form"]["fields"], LONGEST.decisions)
    return {**done, "task": task["id"], "answers": answers}


def get(app, people, who: str, path: str):
    if path.startswith("/api/"):
        return app.test_client().get(path, headers=people.auth(who))
    browser = Client(app)
    browser.login(who)
    return browser.http.get(path, base_url="http://localhost")


def opens(response) -> str:
    body = text(response)
    assert response.status_code in (200, 409), (response.status_code, body[:800])
    assert "Traceback" not in body and "NoneType" not in body, body[:800]
    return body


@pytest.mark.parametrize("column", ["data", "completed_steps"])
def test_a_case_column_holding_json_null(app, people, db_url, case, column):
    write(db_url, f"UPDATE cases SET {column} = 'null' WHERE id = :c", c=case["id"])
    api = get(app, people, "mw", f"/api/v1/cases/{case['id']}")
    assert api.status_code == 200, text(api)[:800]
    assert f"{column}: " in api.get_json()["damaged"], api.get_json()
    assert api.get_json()[column] in ({}, [])
    page = opens(get(app, people, "mw", f"/casussen/{case['id']}"))
    assert "beschadigd" in page, page[:800]
    opens(get(app, people, "mw", f"/taken/{case['task']}"))
    opens(get(app, people, "mw", f"/api/v1/tasks/{case['task']}"))
    code, output = verify_all()
    assert code == 1, output
    assert f"casus {case['id']}: NIET IN ORDE" in output, output
    assert (SHAPE if column == "data" else LIST_SHAPE) in output, output
    # a completion on it: refused in Dutch, nothing stored
    done = app.test_client().post(
        f"/api/v1/tasks/{case['task']}/complete", json={"data": case["answers"]}, headers=people.auth("mw")
    )
    assert done.status_code == 409, text(done)[:800]
    assert f"De gegevens van casus {case['id']} zijn beschadigd opgeslagen" in text(done)
    assert get(app, people, "mw", f"/api/v1/cases/{case['id']}").get_json()[column] in ({}, [])


def test_event_data_and_notification_params_holding_json_null(app, people, db_url, case):
    write(db_url, "UPDATE history_events SET data = 'null' WHERE case_id = :c AND seq = 2", c=case["id"])
    write(db_url, "UPDATE notifications SET params = 'null'")
    history = get(app, people, "mw", f"/api/v1/cases/{case['id']}/history")
    assert history.status_code in (200, 409), text(history)[:800]
    opens(get(app, people, "mw", f"/casussen/{case['id']}"))
    opens(get(app, people, "aud", f"/audit/casussen/{case['id']}"))
    for path in ("/api/v1/notifications", "/berichten"):
        response = get(app, people, "af", path)
        assert response.status_code == 200, (path, text(response)[:800])
    code, output = verify_all()
    assert code == 1, output
    assert f"casus {case['id']}: NIET IN ORDE" in output, output
    assert SHAPE in output, output
