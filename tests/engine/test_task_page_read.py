"""The task page is one read (issue 12 point 2: one use case, one transaction): the task,
its access check and log line, the draft, the practice mark and which fields the form asks
over the case data all come from the same transaction. It took three before (get_task,
then drafts and practice, then form_conditions.task_case_data loading the case again)."""

from __future__ import annotations

from sqlalchemy import event


def test_task_page_reads_in_one_transaction(people):
    from engine import cases, pages, store

    case = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    task_id = case["tasks"][0]["id"]
    begun = []
    engine = store.get_engine()
    listener = lambda conn: begun.append(conn)  # noqa: E731 - the event's callback
    event.listen(engine, "begin", listener)
    try:
        page = pages.task_page(people["mw"], task_id)
    finally:
        event.remove(engine, "begin", listener)
    assert len(begun) == 1
    assert page["draft"] is None and page["practice"] is False
    # the conditions are those of this case's form, over this case's data
    assert set(page["conditions"]) <= {f["name"] for f in page["form"]["fields"]}
    assert isinstance(page["refusals"], dict)
    assert "_case_data" not in page


def test_the_api_task_view_keeps_its_shape(people):
    """get_task without `also` (the API's door) adds nothing and leaks no case data."""
    from engine import cases, tasks

    case = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    view = tasks.get_task(people["mw"], case["tasks"][0]["id"])
    assert not {"_case_data", "conditions", "refusals", "draft"} & set(view)
