"""One command per use case, whatever the door (issue 12, point 2): the API, the web UI and the
command line call the same engine function, in one transaction, and arrive at the same outcome.

- Completing a task deletes every draft of that task, in the completion's own transaction
  (API and web; the command line completes no tasks).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import drafts, runtime, store
from tests.webui.test_ui_app import Client

# Stap 1 answered as each door sends it.
STEP1 = {"api": {"signalen": "klaar", "kindcheck_kinderen": False},
         "web": {"signalen": "klaar", "kindcheck_kinderen": "nee"}}


def drafts_of(task_id: str) -> int:
    with store.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(store.Draft)
                              .where(store.Draft.task_id == task_id))


def task_state(task_id: str) -> str:
    with store.unit_of_work() as session:
        return session.get(store.TaskRecord, task_id).state


def new_case_in_web(web: Client, ref: str) -> str:
    """A case started in the web UI; the id of its first task (the page it opens)."""
    location = web.post("/casussen/nieuw", {"client_ref": ref}).headers["Location"]
    assert location.startswith("/taken/")
    web.get(location)
    return location.rsplit("/", 1)[1]


def someone_elses_draft(person, task_id: str) -> None:
    """A draft of the same task kept by another person (the rule: every draft of the task)."""
    with store.unit_of_work(write=True) as session:
        session.add(store.Draft(user_id=person.id, task_id=task_id, data={"signalen": "ook"},
                                saved_at=store.utcnow()))


def complete(door: str, client, web: Client, people, task_id: str, data: dict):
    """Complete a task as mw through `door`: the API's status, or the web form's."""
    if door == "api":
        return client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                           headers=people.auth("mw")).status_code
    return web.post(f"/taken/{task_id}", {"actie": "afronden", **data}).status_code


# --- (a) a completion deletes the task's drafts ------------------------------------------------


@pytest.mark.parametrize("door", ["api", "web"])
def test_completing_a_task_deletes_every_draft_of_it_whatever_the_door(app, people, door):
    client, web = app.test_client(), Client(app)
    web.login("mw")
    task_id = new_case_in_web(web, "C-concept")
    other_task = new_case_in_web(web, "C-ander")
    for tid in (task_id, other_task):
        assert web.post(f"/taken/{tid}", {"actie": "concept", "signalen": "half af"}
                        ).status_code == 302
    someone_elses_draft(people["lg"], task_id)
    assert drafts_of(task_id) == 2

    # A refused completion stores nothing: the drafts stay.
    assert complete(door, client, web, people, task_id, {}) == 422
    assert drafts_of(task_id) == 2 and task_state(task_id) == "ready"

    ok = complete(door, client, web, people, task_id, STEP1[door])
    assert ok == (200 if door == "api" else 302)
    assert task_state(task_id) == "completed"
    assert drafts_of(task_id) == 0  # the web's draft and the other person's
    assert drafts_of(other_task) == 1  # another task's draft is not touched
    # Completing it again is 409 through either door, and changes nothing.
    assert complete(door, client, web, people, task_id, STEP1[door]) == 409
    assert drafts_of(other_task) == 1


def test_drafts_are_deleted_in_the_completions_own_transaction(sqlite_people, monkeypatch):
    """When the completion's transaction fails after the drafts were deleted, they are back:
    no door can leave a completed task with drafts or a ready task without them."""
    mw = sqlite_people["mw"]
    task_id = runtime.start_case(mw, {"client_ref": "C-tx"})["tasks"][0]["id"]
    drafts.save(mw, task_id, {"signalen": "half af"})

    def broken(*args, **kwargs):
        raise RuntimeError("the access log is gone")

    # runtime.complete_task writes its access-log line last, in the same transaction.
    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(runtime.audit, "log_access", broken)
        runtime.complete_task(mw, task_id, STEP1["api"])
    assert drafts_of(task_id) == 1 and task_state(task_id) == "ready"
    runtime.complete_task(mw, task_id, STEP1["api"])
    assert drafts_of(task_id) == 0 and task_state(task_id) == "completed"
