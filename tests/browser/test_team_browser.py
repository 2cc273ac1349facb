"""The meldcode as teamwork in a real browser (issue 13): the medewerker, the
aandachtsfunctionaris and the leidinggevende each in a browser context of their own, on one
case with acute unsafety: a consultation asked and answered, the melding done without waiting
on anyone else, the leidinggevende informed and the afstemming recorded, Veilig Thuis's
feedback and the evaluation of the help on its date (a date already passed: at once)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, start_case, submit
from tests.scenarios.paths import SCENARIOS

from .conftest import login, shot

pytestmark = pytest.mark.browser

ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
LANE_USERS = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}


def case_link(page) -> str:
    hrefs = page.locator("a[href^='/casussen/']").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    return next(h for h in hrefs if re.fullmatch(r"/casussen/\d+", h))


def test_a_whole_case_as_a_team(page, new_context):
    mw = page
    login(mw, "mw")
    start_case(mw, "C-TEAM-1")
    case_url = case_link(mw)
    people = {"medewerker": mw}
    for lane, name in LANE_USERS.items():
        if lane not in people:
            people[lane] = new_context().new_page()
            login(people[lane], name)
    af, lg = people["aandachtsfunctionaris"], people["leidinggevende"]

    # the aandachtsfunctionaris may not read the case before being involved
    assert af.goto(case_url).status == 403

    # the medewerker asks the aandachtsfunctionaris for advice; the case goes on meanwhile
    mw.goto(case_url)
    mw.locator("#raadplegen summary").click()
    mw.get_by_label(re.compile("Aziz Aandachtsfunctionaris")).check()
    mw.get_by_label("Uw vraag").fill("Moet ik Veilig Thuis nu al bellen?")
    with mw.expect_navigation():
        mw.locator("#raadplegen").get_by_role("button", name="Vraag stellen").click()
    expect(mw.locator(".field-error")).to_have_count(0)

    # the aandachtsfunctionaris sees a new message, opens the task from it and answers
    af.goto("/")
    expect(af.locator(".notification-count .badge")).to_be_visible()  # other tests' too
    af.goto("/berichten")
    message = af.locator("li.notification").filter(
        has=af.locator(f"a[href='{case_url}']")).first
    with af.expect_navigation():
        message.get_by_role("link", name="Naar de taak").click()
    expect(af.locator("body")).to_contain_text("Moet ik Veilig Thuis nu al bellen?")
    af.locator("#antwoord").fill("Ja: bij acute onveiligheid meteen melden.")
    submit(af)
    shot(af, "team-advies-gegeven")

    # the medewerker walks every step of theirs; a task of another lane is done by its person
    done: list[str] = []
    page = mw
    mw.goto(case_url)
    with mw.expect_navigation():
        mw.locator(".current-tasks a.task-name").first.click()
    while True:
        while "/taken/" in page.url:
            step = fill_task(page, ACUUT.decisions)
            submit(page)
            expect(page.locator(".field-error")).to_have_count(0)
            done.append(step)
            assert len(done) <= 20, done
        mw.goto(case_url)
        open_tasks = mw.locator(".current-tasks .task-row")
        if open_tasks.count() == 0:
            break
        page = people[open_tasks.first.get_attribute("data-lane")]
        page.goto(case_url)
        with page.expect_navigation():
            page.locator(".current-tasks a.task-name").first.click()

    # the acute melding was done before the leidinggevende acted at all
    assert done.index("melding_doen") < done.index("besluit_afstemmen"), done
    for step in ("besluit_afstemmen", "terugkoppeling_vt", "hulp_organiseren", "hulp_evalueren"):
        assert step in done, done
    assert "consult" not in done

    # informed after the melding: a message for the leidinggevende and the history says so
    lg.goto("/berichten")
    expect(lg.locator(".notification-list .notification")).not_to_have_count(0)
    expect(lg.locator(".notification-list")).not_to_contain_text("C-TEAM-1")  # no client data
    mw.goto(case_url)
    facts = mw.locator(".facts")
    expect(facts).to_contain_text("Afgesloten")
    expect(facts).to_contain_text("Gemeld bij Veilig Thuis en hulp geboden")
    body = mw.locator("main")
    expect(body).to_contain_text("Ja: bij acute onveiligheid meteen melden.")
    expect(body).to_contain_text("ingelicht")
    shot(mw, "team-casus-afgesloten")

    # and the aandachtsfunctionaris, consulted, reads the case
    assert af.goto(case_url).status == 200
