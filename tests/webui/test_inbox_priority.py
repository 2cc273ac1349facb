"""Issue 14 point 3: "with acute or structural unsafety the melding is urgent and first in the
inbox". CONTRACT section 5 keeps the API's `urgent` for acute unsafety only and orders GET
/api/v1/tasks by urgent, due date, ready time; the web inbox (Mijn taken) puts the melding
tasks of a case with structural unsafety right after the urgent ones, marked "Voorrang:
structurele onveiligheid", apart from the "Spoed" marker."""

from __future__ import annotations

import re

from engine import cases, pages, tasks
from tests.helpers import LANE_PEOPLE, text
from tests.scenarios.paths import fill

MELDING = {
    "kindcheck_kinderen": False,
    "advies_veilig_thuis": True,
    "gesprek_uitzondering": "veiligheid",
    "vermoeden": True,
    "hulp_mogelijk": False,
    "hulp_aanvaard": False,
    # no weging_besproken_client: with a vermoeden stap 4 does not ask it (required_when
    # vermoeden == False), so fill must not answer the questions that follow from it
}
SPOED = "Spoed: acute onveiligheid"
VOORRANG = "Voorrang: structurele onveiligheid"


def at_melding(people, ref: str, acute: bool, structural: bool) -> dict:
    """A case of mw walked (each task by its person) until its melding branch is ready; the
    ready melding_voorbereiden task."""
    decisions = {**MELDING, "acute_onveiligheid": acute, "structurele_onveiligheid": structural}
    case = cases.start_case(people["mw"], {"client_ref": ref})
    while not any(t["step"] == "melding_voorbereiden" for t in case["tasks"]):
        task = case["tasks"][0]
        who = people[LANE_PEOPLE[task["lane"]]]
        form = tasks.get_task(who, task["id"])["form"]["fields"]
        case = tasks.complete_task(who, task["id"], fill(form, decisions))
    return next(t for t in case["tasks"] if t["step"] == "melding_voorbereiden")


def rows(page: str) -> dict[str, str]:
    """Each task row of the inbox page by its task id, in the page's order."""
    found = re.findall(r'<li class="task-row[^"]*">(.*?)</li>', page, flags=re.S)
    return {re.search(r'href="/taken/([^"]+)"', row).group(1): row for row in found}


def test_structural_unsafety_comes_right_after_the_urgent_tasks_in_the_web_inbox_only(
    browser_like, sqlite_people
):
    people = sqlite_people
    plain = cases.start_case(people["mw"], {"client_ref": "C-gewoon"})["tasks"][0]
    structural = at_melding(people, "C-structureel", acute=False, structural=True)
    acute = at_melding(people, "C-acuut", acute=True, structural=True)
    ours = [acute["id"], structural["id"], plain["id"]]

    browser_like.login("mw")
    page = text(browser_like.get("/"))
    shown = rows(page)
    assert [i for i in shown if i in ours] == ours
    assert SPOED in shown[acute["id"]] and VOORRANG not in shown[acute["id"]]
    assert VOORRANG in shown[structural["id"]] and SPOED not in shown[structural["id"]]
    assert "is-priority" in page and SPOED not in shown[plain["id"]]
    assert VOORRANG not in shown[plain["id"]]
    # sorted by due date alone, priority (and urgency) no longer count: the acute melding is
    # due today (due.due_at, urgent), the other two the same later day, so by the time they
    # became ready
    by_due = rows(text(browser_like.get("/?sorteer=termijn")))
    assert [i for i in by_due if i in ours] == [acute["id"], plain["id"], structural["id"]]

    # the API as CONTRACT section 5 says: urgent only with acute unsafety, and the order is
    # urgent, due date, ready time: the plain stap 1 (ready first, due the same day) before
    # the melding of the structural case
    listed = browser_like.http.get("/api/v1/tasks", headers=people.auth("mw")).json
    mine = [t for t in listed if t["id"] in ours]
    assert [t["id"] for t in mine] == [acute["id"], plain["id"], structural["id"]]
    assert [t["urgent"] for t in mine] == [True, False, False]
    assert all("priority" not in t for t in listed)
    assert mine[1]["due_at"] == mine[2]["due_at"]


def test_the_inbox_reads_the_two_answers_on_sqlite_and_postgresql(people):
    plain = cases.start_case(people["mw"], {"client_ref": "C-gewoon"})["tasks"][0]
    structural = at_melding(people, "C-structureel", acute=False, structural=True)
    both = at_melding(people, "C-beide", acute=True, structural=True)
    inbox = pages.inbox(people["mw"])["tasks"]
    assert [(t["id"], t["urgent"], t["priority"]) for t in inbox] == [
        (both["id"], True, False),
        (structural["id"], False, True),
        (plain["id"], False, False),
    ]
