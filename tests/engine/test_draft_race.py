"""A draft never outlives its task (issue 12, point 2: the drafts of a task are deleted in the
completion's transaction), also when it is saved while the task is being completed.

A draft holds free text about a client. On PostgreSQL two transactions run side by side: a save
that found the task ready, then waited while someone else completed it, used to insert its
draft after the completion had deleted the drafts it could see, leaving a draft of a completed
task for good. The save now locks the case row (as a completion does first) before it checks
that the task is ready: one of the two waits for the other. The same holds for a handover,
which deletes the old owner's drafts of the case.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine import cases, drafts, models, sharing, store, tasks

STEP1 = {"signalen": "klaar", "kindcheck_kinderen": False}


def drafts_of(task_id: str) -> int:
    with store.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(models.Draft)
                              .where(models.Draft.task_id == task_id))


def complete(people, task_id: str) -> None:
    tasks.complete_task(people["mw"], task_id, STEP1)


def hand_over(people, task_id: str) -> None:
    sharing.hand_over(people["mw"], tasks.case_of_task(task_id),
                      {"user": "mw2", "reason": "Vakantie"})


@pytest.mark.parametrize("other", [complete, hand_over])
def test_a_draft_saved_meanwhile_does_not_outlive_the_task_or_the_ownership(
        people, monkeypatch, other):
    mw = people["mw"]
    task_id = cases.start_case(mw, {"client_ref": "C-race"})["tasks"][0]["id"]
    checked, completed = threading.Event(), threading.Event()
    original = drafts.may_complete  # asked once the save has found the task ready

    def slow_check(*args):
        allowed = original(*args)
        checked.set()  # the save has found the task ready and its own
        completed.wait(3)  # ... and the other change runs now, if the save lets it
        return allowed

    monkeypatch.setattr(drafts, "may_complete", slow_check)
    outcome: dict[str, object] = {}

    def save():
        try:
            outcome["saved"] = drafts.save(mw, task_id, {"signalen": "half af"})
        except Exception as exc:  # noqa: BLE001 - a refusal (409) is an outcome too
            outcome["refused"] = exc

    saver = threading.Thread(target=save)
    saver.start()
    assert checked.wait(10)
    try:
        other(people, task_id)
    finally:
        completed.set()
        saver.join(20)
    assert not saver.is_alive()
    with store.unit_of_work() as session:
        row = session.get(models.TaskRecord, task_id)
        done = row.state == "completed" if other is complete else row.owner_id == people["mw2"].id
    assert done
    # Saved first (the other change then deleted it) or refused; never kept beside it.
    assert drafts_of(task_id) == 0, outcome
