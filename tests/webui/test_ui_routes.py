"""The routes of the meldcode through the web forms (Flask's test client, with CSRF, as a
browser posts them): blank text refused like the API refuses it, the stap 4 contradiction, and
after each step the task that follows, the acute melding first."""

from __future__ import annotations

import re

import pytest

from engine import definitions
from tests.helpers import Client, text
from tests.scenarios.paths import SCENARIOS, TEAM_STEPS, fill

ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
FIELDS = {sid: [f.as_dict() for f in step.fields]
          for sid, step in definitions.load(definitions.shipped_files()).steps.items()}
STEP = re.compile(r'class="task-form[^"]*"[^>]*data-step="([a-z0-9_]+)"')


@pytest.fixture
def mw(sqlite_url, sqlite_people):
    from webui import create_app

    client = Client(create_app({"TESTING": True}))
    client.login("mw")
    return client


def as_posted(data: dict) -> dict[str, str | list[str]]:
    """Answers as an HTML form sends them: ja/nee for booleans, the ticked boxes of a multi
    field as the list of their values (one field per box), everything else as text."""
    return {k: ("ja" if v else "nee") if isinstance(v, bool)
            else [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in data.items()}


def open_task(client, location: str) -> str:
    """Follow a redirect to a task page; the step its form is for."""
    assert location.startswith("/taken/"), location
    page = client.get(location)
    assert page.status_code == 200
    return STEP.search(text(page)).group(1)


def submit(client, location: str, step: str, decisions: dict, **override):
    """Complete the step's form; when the web then opens a step of the team around the route
    (TEAM_STEPS: the feedback of Veilig Thuis), that is recorded at once too."""
    data = {**as_posted(fill(FIELDS[step], decisions)), **override, "actie": "afronden"}
    response = client.post(location, data)
    while response.status_code == 302 and response.headers["Location"].startswith("/taken/"):
        following = response.headers["Location"]
        team_step = open_task(client, following)
        if team_step not in TEAM_STEPS:
            break
        response = client.post(following, {**as_posted(fill(FIELDS[team_step], decisions)),
                                           "actie": "afronden"})
    return response


def walk_until(client, decisions: dict, step: str, ref: str) -> str:
    """Start a case and complete the steps the web UI opens until it opens `step`; its URL."""
    location = client.post("/casussen/nieuw", {"client_ref": ref}).headers["Location"]
    for _ in range(12):
        current = open_task(client, location)
        if current == step:
            return location
        response = submit(client, location, current, decisions)
        assert response.status_code == 302, text(response)
        location = response.headers["Location"]
    raise AssertionError(f"{step} niet bereikt")


def test_blank_text_is_refused_as_the_api_refuses_it(mw):
    location = mw.post("/casussen/nieuw", {"client_ref": "C-leeg"}).headers["Location"]
    assert open_task(mw, location) == "stap1_signalen"
    response = submit(mw, location, "stap1_signalen", {"kindcheck_kinderen": False},
                      signalen=" \r\n\t ")
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'id="fout-signalen">.*Dit veld is verplicht\.', page)
    assert "Stap afronden" in page
    case = text(mw.get("/casussen/1"))
    assert '"done": []' in case and '"current": ["stap1_signalen"]' in case


def test_blank_reason_for_skipping_the_talk_is_refused(mw):
    decisions = {"kindcheck_kinderen": False, "advies_veilig_thuis": False,
                 "gesprek_uitzondering": "veiligheid"}
    location = walk_until(mw, decisions, "stap2_overleg", "C-reden")
    response = submit(mw, location, "stap2_overleg", decisions,
                      gesprek_uitzondering_reden="   ")
    assert response.status_code == 422
    assert re.search(r'id="fout-gesprek_uitzondering_reden">.*Dit veld is verplicht\.',
                     text(response))


def test_contradiction_at_stap4_is_refused_naming_both(mw):
    decisions = {**ACUUT.decisions, "vermoeden": False}
    location = walk_until(mw, decisions, "stap4_wegen", "C-tegenspraak")
    response = submit(mw, location, "stap4_wegen", decisions)
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'id="fout-vermoeden">[^<]*<span[^>]*>[^<]*</span>[^<]*geen vermoeden', page,
                     re.IGNORECASE)
    assert 'id="fout-acute_onveiligheid"' in page
    assert 'id="fout-structurele_onveiligheid"' not in page
    assert '"current": ["stap4_wegen"]' in text(mw.get("/casussen/1"))


def test_after_each_step_the_acute_melding_comes_first(mw):
    location = walk_until(mw, ACUUT.decisions, "stap5_beslissen", "C-acuut")
    opened = []
    step = "stap5_beslissen"
    while True:
        response = submit(mw, location, step, ACUUT.decisions)
        assert response.status_code == 302, text(response)
        location = response.headers["Location"]
        if not location.startswith("/taken/"):
            break
        step = open_task(mw, location)
        opened.append(step)
    # the melding branch to the end first, although help became ready at the same time
    assert opened == ["melding_voorbereiden", "melding_voorbespreken", "melding_doen",
                      "hulp_organiseren", "hulp_evalueren"]
    assert location == "/casussen/1"
