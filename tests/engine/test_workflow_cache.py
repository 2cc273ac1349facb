"""The workflow a command just stored stays in this worker's cache (engine/workflow_cache.py
WorkflowCache), so the next step of the case does not deserialise the state it just wrote:
after a completion, and after a case start too (the first step of every case)."""

from engine import adapter, cases, tasks, workflow_cache
from tests.scenarios.paths import LONGEST, fill


def test_the_first_step_after_a_start_takes_the_started_workflow_from_the_cache(
        people, db_url, monkeypatch):
    case = cases.start_case(people["mw"], {"client_ref": "uit de cache"})
    task = tasks.get_task(people["mw"], case["tasks"][0]["id"])

    def no_load(*_args, **_kwargs):
        raise AssertionError("the state was read back from the database")

    # every write loads through write_refusals.workflow_for_write, which calls the adapter
    monkeypatch.setattr(adapter, "load_state", no_load)
    done = tasks.complete_task(people["mw"], task["id"],
                               fill(task["form"]["fields"], LONGEST.decisions))
    assert done["completed_steps"] == [task["step"]]
    # and the next one again, from the workflow the completion put back
    following = tasks.get_task(people["mw"], done["tasks"][0]["id"])
    tasks.complete_task(people["mw"], following["id"],
                        fill(following["form"]["fields"], LONGEST.decisions))


def test_a_refused_start_leaves_nothing_in_the_cache(people, db_url):
    before = dict(workflow_cache.CACHE.entries)
    try:
        cases.start_case(people["mw"], {"client_ref": ""})
    except Exception:  # noqa: BLE001 - the refusal itself is tested elsewhere (422)
        pass
    assert workflow_cache.CACHE.entries == before
