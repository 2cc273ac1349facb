"""Stuck cases and moving them in the web UI, as the medewerker and the procesbeheerder see it:
the case page says the case is stuck, the versions page lists it (ids and counts only), and
the procesbeheerder moves the open cases of a version after seeing the proof."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import cases, models, store
from tests.helpers import (
    JOIN,
    STALLING,
    Client,
    cli,
    planted_files,
    renamed_files,
    store_version,
    stuck_case,
    text,
    walk,
)

SHIPPED = 1


@pytest.fixture
def as_role(app, people):
    def make(name):
        client = Client(app)
        client.login(name)
        return client

    return make


@pytest.fixture
def stuck(people, monkeypatch):
    version = store_version(planted_files(), monkeypatch)
    return version, stuck_case(people, ref="C-geheim-vast")


def case_version(case_id: int) -> int:
    with store.unit_of_work() as session:
        return session.get(models.Case, case_id).process_version


def test_the_case_page_says_the_case_is_stuck(as_role, stuck):
    _version, case = stuck
    page = text(as_role("mw").get(f"/casussen/{case['id']}"))
    notice = re.search(r'<section class="error-summary stall-notice".*?</section>', page, re.S)
    assert notice, page[:2000]
    notice = notice.group(0)
    assert "Deze casus staat vast" in notice
    assert "Er staat geen stap meer open, maar de casus is niet afgesloten." in notice
    assert "Neem contact op met de procesbeheerder" in notice
    assert re.search(rf"De casus wacht bij:\s*{JOIN}", notice), notice
    assert "verplaatst van procesversie" not in page


def test_a_case_that_goes_on_shows_no_notice(as_role, people):
    case = cases.start_case(people["mw"], {"client_ref": "C-gewoon"})
    page = text(as_role("mw").get(f"/casussen/{case['id']}"))
    assert "Deze casus staat vast" not in page and "stall-notice" not in page


def test_the_versions_page_lists_stuck_cases_without_their_content(as_role, stuck):
    version, case = stuck
    for name in ("pb", "aud", "bh"):
        page = text(as_role(name).get("/processen"))
        assert "Vastgelopen casussen" in page
        assert f"Versie {version}: 1 vastgelopen (casus {case['id']})" in page
        row = re.search(rf'<tr id="versie-{version}".*?</tr>', page, re.S).group(0)
        assert f"casus {case['id']}" in row and JOIN in row
        assert "C-geheim-vast" not in page and "zorgen" not in page
        assert ("Verplaatsen…" in row) == (name == "pb")


def test_the_procesbeheerder_moves_the_stuck_case_and_it_goes_on(as_role, people, stuck):
    version, case = stuck
    pb = as_role("pb")
    versions = text(pb.get("/processen"))
    assert f'href="/processen/{version}/verplaatsen"' in versions
    choose = pb.get(f"/processen/{version}/verplaatsen")
    assert choose.status_code == 200 and 'name="naar"' in text(choose)
    assert "Ja," not in text(choose)  # nothing is moved before the proof is shown
    proof = text(pb.get(f"/processen/{version}/verplaatsen?naar={SHIPPED}"))
    assert f"Gecontroleerd: alle 1 open casus(sen) kunnen naar versie {SHIPPED}." in proof
    assert f"Waarvan vastgelopen: {case['id']}." in proof
    assert "C-geheim-vast" not in proof
    assert case_version(case["id"]) == version

    done = pb.post(f"/processen/{version}/verplaatsen", {"naar": str(SHIPPED)})
    assert done.status_code == 302 and done.headers["Location"] == "/processen"
    after = text(pb.get("/processen"))
    assert f"1 open casus(sen) verplaatst van versie {version} naar versie {SHIPPED}." in after
    assert "Vastgelopen casussen" not in after
    assert case_version(case["id"]) == SHIPPED

    page = text(as_role("mw").get(f"/casussen/{case['id']}"))
    assert "Deze casus staat vast" not in page
    assert (f"deze casus verplaatst van procesversie {version} naar procesversie {SHIPPED}."
            in page)
    assert 'data-step="melding_doen"' in page
    assert cli("verify", "--all").exit_code == 0
    closed = walk(people, cases.get_case(people["mw"], case["id"]), STALLING.decisions)
    assert closed["status"] == "closed"
    assert cli("verify", "--all").exit_code == 0


def test_a_refused_move_shows_why_and_changes_nothing(as_role, people, monkeypatch):
    version = store_version(renamed_files("melding_voorbereiden", "melding_klaarzetten"),
                            monkeypatch)
    case = walk(people, cases.start_case(people["mw"], {"client_ref": "C-klaar"}),
                STALLING.decisions, stop_at="melding_klaarzetten")
    pb = as_role("pb")
    proof = text(pb.get(f"/processen/{version}/verplaatsen?naar={SHIPPED}"))
    assert (f"casus {case['id']}: stap &#39;melding_klaarzetten&#39; staat open maar bestaat "
            f"niet in versie {SHIPPED}") in proof
    assert "Ja," not in proof
    refused = pb.post(f"/processen/{version}/verplaatsen", {"naar": str(SHIPPED)})
    assert refused.status_code == 409
    assert "Niet verplaatst" in text(refused) and "Er is niets gewijzigd." in text(refused)
    assert case_version(case["id"]) == version


@pytest.mark.parametrize("name", ["mw", "lg", "af", "aud", "bh"])
def test_only_a_procesbeheerder_may_move_cases(as_role, stuck, name):
    version, case = stuck
    client = as_role(name)
    assert client.get(f"/processen/{version}/verplaatsen").status_code == 403
    assert client.get(f"/processen/{version}/verplaatsen?naar={SHIPPED}").status_code == 403
    client.get("/")  # a page with a CSRF token, as a browser has
    assert client.post(f"/processen/{version}/verplaatsen",
                       {"naar": str(SHIPPED)}).status_code == 403
    assert case_version(case["id"]) == version


def test_the_move_needs_the_csrf_token(as_role, stuck):
    version, case = stuck
    response = as_role("pb").post(f"/processen/{version}/verplaatsen", {"naar": str(SHIPPED)},
                                  csrf=False)
    assert response.status_code == 400
    assert case_version(case["id"]) == version
    with store.unit_of_work() as session:
        actions = session.scalars(select(models.HistoryEvent.action).where(
            models.HistoryEvent.case_id == case["id"])).all()
    assert "case_migrated" not in actions
