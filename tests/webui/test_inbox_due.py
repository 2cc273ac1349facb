"""Mijn taken with due dates (issue 13 point 5): urgent tasks first, then by due date; the due
date in words ("uiterlijk 4 december"), overdue and urgent tasks marked in text, a marker for a
task with a saved draft, and sorting by due date, case or step through a link (no script)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from engine import cases, clock, due, models, store, task_rows, tasks, timezones
from tests.helpers import LANE_PEOPLE, text, verify
from tests.scenarios.paths import SCENARIOS, fill

ACUTE = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")


def _acute_case(people) -> dict:
    case = cases.start_case(people["mw"], {"client_ref": "C-acuut"})
    while not any(t["step"] == "melding_voorbereiden" for t in case["tasks"]):
        task = case["tasks"][0]
        who = people[LANE_PEOPLE[task["lane"]]]
        form = tasks.get_task(who, task["id"])["form"]["fields"]
        case = tasks.complete_task(who, task["id"], fill(form, ACUTE.decisions))
    return case


def _order(page: str, ids: list[str]) -> list[str]:
    """The given task ids in the order the page links them."""
    found = [m for m in re.findall(r'href="/taken/([^"]+)"', page) if m in ids]
    return list(dict.fromkeys(found))


def _due_words(at: datetime) -> str:
    day = at.astimezone(timezones.DISPLAY_ZONE)
    return f"uiterlijk {day.day} {MONTHS[day.month - 1]}"


def test_the_inbox_orders_marks_and_sorts(browser_like, sqlite_people):
    people = sqlite_people
    plain = cases.start_case(people["mw"], {"client_ref": "C-gewoon"})["tasks"][0]
    acute = _acute_case(people)
    melding = next(t for t in acute["tasks"] if t["step"] == "melding_voorbereiden")
    hulp = next(t for t in acute["tasks"] if t["step"] == "hulp_organiseren")
    # help that should have been organised yesterday: overdue now
    yesterday = due.end_of_day(due.local_day(clock.now()) - timedelta(days=1))
    with store.unit_of_work(write=True) as session:  # sealed anew, as a writer of the product would
        task_rows.resealed(session.get_one(models.TaskRecord, hulp["id"]), due_at=yesterday)
    ids = [melding["id"], hulp["id"], plain["id"]]

    browser_like.login("mw")
    browser_like.get(f"/taken/{plain['id']}")
    saved = browser_like.post(f"/taken/{plain['id']}", {"actie": "concept",
                                                        "bronnen_derden": "de buurvrouw"})
    assert saved.status_code == 302

    page = text(browser_like.get("/"))
    # urgent first, then by due date (the overdue help), then the plain case's stap 1
    assert _order(page, ids) == [melding["id"], hulp["id"], plain["id"]]
    rows = {i: re.search(rf'<li class="task-row[^"]*">\s*<a class="task-name" href="/taken/{i}".*?</li>',
                         page, re.S).group(0) for i in ids}
    assert "Spoed: acute onveiligheid" in rows[melding["id"]]
    assert "Spoed" not in rows[hulp["id"]] + rows[plain["id"]]
    assert "Te laat" in rows[hulp["id"]] and "is-overdue" in rows[hulp["id"]]
    assert "Te laat" not in rows[melding["id"]] + rows[plain["id"]]
    assert _due_words(yesterday) in rows[hulp["id"]]
    plain_due = timezones.parse_iso(plain["due_at"])
    assert _due_words(plain_due) in rows[plain["id"]]
    assert "Concept opgeslagen" in rows[plain["id"]]
    assert "Concept opgeslagen" not in rows[melding["id"]] + rows[hulp["id"]]
    assert 'href="/casussen/' in rows[plain["id"]] and "C-gewoon" in rows[plain["id"]]

    # sorting: by due date alone, by case (grouped under the client reference), by step
    by_due = text(browser_like.get("/?sorteer=termijn"))
    assert _order(by_due, ids)[0] == hulp["id"]
    assert 'aria-current="true"><strong>termijn' in by_due
    by_case = text(browser_like.get("/?sorteer=casus"))
    assert by_case.index(">C-acuut</a>") < by_case.index(">C-gewoon</a>")
    assert _order(by_case, ids) == [melding["id"], hulp["id"], plain["id"]]
    by_step = text(browser_like.get("/?sorteer=stap"))
    assert _order(by_step, ids) == [plain["id"], melding["id"], hulp["id"]]
    unknown = browser_like.get("/?sorteer=<script>")
    assert unknown.status_code == 200 and _order(text(unknown), ids) == _order(page, ids)

    # weeks later (an injected clock): every task with a due date is overdue; the session of
    # today has ended by then (its age is on the same clock), so mw signs in again
    with clock.use(clock.now() + timedelta(weeks=4)):
        browser_like.login("mw")
        later = text(browser_like.get("/"))
    assert later.count("Te laat") == 3

    # in English
    browser_like.post("/taal", {"taal": "en", "next": "/"})
    page_en = text(browser_like.get("/"))
    for words in ("Urgent: acute unsafety", "Overdue", "Draft saved", "Sort by:",
                  "urgency and due date", "due "):
        assert words in page_en, words
    for words in ("Spoed", "Te laat", "uiterlijk", "Concept opgeslagen", "Sorteren op"):
        assert words not in page_en, words
    assert all(v.ok for v in verify().values())
