"""Issue 14 break-it (c): Mijn taken chose its rows as the API orders them (urgent, due date,
ready time) and only then put the tasks with priority (the melding of a case with structural
unsafety, "Voorrang") right after the urgent ones, so with more tasks than a page holds a
priority task fell off the page. The page is now chosen in the order it shows; the API's order
stays as CONTRACT section 5 says."""

from __future__ import annotations

from engine import cases, pages, tasks
from tests.helpers import LANE_PEOPLE
from tests.scenarios.paths import fill

MELDING = {
    "kindcheck_kinderen": False,
    "advies_veilig_thuis": True,
    "gesprek_uitzondering": "veiligheid",
    "vermoeden": True,
    "acute_onveiligheid": False,
    "structurele_onveiligheid": True,
    "hulp_mogelijk": False,
    "hulp_aanvaard": False,
    # no weging_besproken_client: with a vermoeden stap 4 does not ask it (required_when
    # vermoeden == False), so fill must not answer the questions that follow from it
}


def structural_melding(people, ref: str) -> str:
    """A case of mw with structural unsafety, walked until its melding is ready: that task's id."""
    case = cases.start_case(people["mw"], {"client_ref": ref})
    while not any(t["step"] == "melding_voorbereiden" for t in case["tasks"]):
        task = case["tasks"][0]
        who = people[LANE_PEOPLE[task["lane"]]]
        form = tasks.get_task(who, task["id"])["form"]["fields"]
        case = tasks.complete_task(who, task["id"], fill(form, MELDING))
    return next(t["id"] for t in case["tasks"] if t["step"] == "melding_voorbereiden")


def test_a_priority_task_stays_on_a_full_inbox_page(people, monkeypatch):
    # two plain stap 1 tasks that became ready earlier, due the same day: the API's first page
    # of two holds them; the page shows the priority task first, so it must be on the page
    plain = [cases.start_case(people["mw"], {"client_ref": f"C-{n}"})["tasks"][0]["id"] for n in (1, 2)]
    priority = structural_melding(people, "C-voorrang")
    monkeypatch.setattr(pages, "INBOX_LIMIT", 2)
    shown = pages.inbox(people["mw"])
    assert [(t["id"], t["priority"]) for t in shown["tasks"]] == [(priority, True), (plain[0], False)]
    assert shown["truncated"]
    # sorted another way, the same page: the priority task does not drop off
    by_due = pages.inbox(people["mw"], "termijn")["tasks"]
    assert {t["id"] for t in by_due} == {priority, plain[0]}
    # the API as CONTRACT section 5 says: urgent, due date, ready time; no priority
    api = [t["id"] for t in tasks.ready_tasks(people["mw"], limit=2)]
    assert api == plain
    # another medewerker never gets mw's priority task on their page
    for n in (3, 4):
        cases.start_case(people["mw2"], {"client_ref": f"C-{n}"})
    assert priority not in {t["id"] for t in pages.inbox(people["mw2"])["tasks"]}
