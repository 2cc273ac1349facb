"""Overviews of issue 13 point 5: each role's start page, the leidinggevende's team page, the
"Stap 3 van 5" on the task page, the stap 5 decisions on the case page and the search by
client reference and owner in Mijn casussen and the auditor's list (with its access-log lines)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from engine import cases, clock, models, store
from tests.helpers import Client, english, text, walk
from tests.scenarios.paths import SCENARIOS

MELDEN_EN_HULP = next(s for s in SCENARIOS if s.name == "structureel_melden_en_hulp")


def access(action: str, user: str) -> list[int | None]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(models.AccessLogEntry.case_id).where(
            models.AccessLogEntry.action == action, models.AccessLogEntry.user == user)
            .order_by(models.AccessLogEntry.id)))


def signed_in(app, name: str) -> Client:
    client = Client(app)
    client.login(name)
    return client


# --- start pages ---------------------------------------------------------------------------


def test_each_role_lands_on_its_own_start_page(ui_app):
    expected = {"aud": "/audit/casussen", "pb": "/processen", "bh": "/beheer/instellingen"}
    for name, path in expected.items():
        client = Client(ui_app)
        client.get("/aanmelden")
        signed = client.post("/aanmelden", {"naam": name, "wachtwoord": "blauwe-giraf-leest-krant"})
        assert signed.status_code == 302
        home = client.get(signed.headers["Location"])
        assert home.status_code == 302 and home.headers["Location"].endswith(path), name
        assert client.get(path).status_code == 200
    for name in ("mw", "lg", "af"):  # people with tasks keep Mijn taken as their start
        home = signed_in(ui_app, name).get("/")
        assert home.status_code == 200 and "Mijn taken" in text(home)


def test_the_navigation_fits_the_role(ui_app):
    lg = text(signed_in(ui_app, "lg").get("/"))
    assert 'href="/team"' in lg and "Mijn team" in lg
    mw = text(signed_in(ui_app, "mw").get("/"))
    assert 'href="/team"' not in mw
    aud = text(signed_in(ui_app, "aud").get("/audit/casussen"))
    assert ">Mijn taken<" not in aud  # no tasks ever: no inbox in the menu


# --- the team page -------------------------------------------------------------------------


def test_the_team_page_shows_the_open_cases_of_the_team_with_step_age_and_overdue(
        ui_app, sqlite_people):
    started = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
    with clock.use(started):
        first = cases.start_case(sqlite_people["mw"], {"client_ref": "T-eerste"})
        walk(sqlite_people, first, MELDEN_EN_HULP.decisions, stop_at="stap3_gesprek")
        other = cases.start_case(sqlite_people["mw2"], {"client_ref": "T-ander-team"})
    closed = cases.start_case(sqlite_people["mw"], {"client_ref": "T-af"})
    walk(sqlite_people, closed, SCENARIOS[0].decisions)
    lg = signed_in(ui_app, "lg")
    with clock.use(started + dt.timedelta(days=30)):
        page = lg.get("/team")
    body = text(page)
    assert page.status_code == 200
    assert "T-eerste" in body and f'href="/casussen/{first["id"]}"' in body
    assert "T-ander-team" not in body  # mw2 has no leidinggevende
    assert "T-af" not in body  # closed
    assert "Stap 3: Gesprek met de cliënt" in body and "Stap 3 van 5" in body
    assert "Te laat" in body and "1 taak te laat" in body
    assert "Eigenaar: mw" in body and re.search(r"loopt al \d+ maand", body)
    # each case shown is in the access log, as the other lists are
    assert access("list_team", "lg") == [first["id"]]
    assert other["id"] not in access("list_team", "lg")


def test_only_a_leidinggevende_has_a_team_page(ui_app):
    assert signed_in(ui_app, "mw").get("/team").status_code == 403
    assert access("list_team", "mw") == [None]  # the refusal, in the access log
    empty = signed_in(ui_app, "lg").get("/team")
    assert empty.status_code == 200 and "Uw team heeft geen open casussen." in text(empty)


# --- the task page and the case page -------------------------------------------------------


def test_the_task_page_says_where_the_step_stands_on_the_route(ui_app, sqlite_people):
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "P-1"})
    mw = signed_in(ui_app, "mw")
    page = text(mw.get(f"/taken/{case['tasks'][0]['id']}"))
    assert "Stap 1 van 5" in page and 'class="progress-bar" aria-hidden="true"' in page
    case = walk(sqlite_people, case, MELDEN_EN_HULP.decisions, stop_at="stap3_gesprek")
    assert "Stap 3 van 5" in text(mw.get(f"/taken/{case['tasks'][0]['id']}"))
    case = walk(sqlite_people, case, MELDEN_EN_HULP.decisions, stop_at="hulp_organiseren")
    hulp = next(t for t in case["tasks"] if t["step"] == "hulp_organiseren")
    after = text(mw.get(f"/taken/{hulp['id']}"))
    assert "Na stap 5: de besluiten uitvoeren" in after and "van 5" not in after


def test_after_stap5_the_case_page_states_both_decisions_and_what_runs_side_by_side(
        ui_app, sqlite_people):
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "B-1"})
    mw = signed_in(ui_app, "mw")
    case = walk(sqlite_people, case, MELDEN_EN_HULP.decisions, stop_at="stap5_beslissen")
    assert "De besluiten van stap 5" not in text(mw.get(f"/casussen/{case['id']}"))
    case = walk(sqlite_people, case, MELDEN_EN_HULP.decisions, stop_at="hulp_organiseren")
    body = text(mw.get(f"/casussen/{case['id']}"))
    assert "De besluiten van stap 5" in body
    assert 'data-decision="besluit_melden">Melden bij Veilig Thuis: <strong>ja</strong>' in body
    assert 'data-decision="besluit_hulp">Hulp bieden of organiseren: <strong>ja</strong>' in body
    for track in ("melding", "terugkoppeling", "hulp", "afstemming"):
        assert f'data-track="{track}"' in body
    assert "Wat nu naast elkaar loopt" in body and "loopt nu: Hulp bieden of organiseren" in body
    en = english(Client(ui_app), "mw").get(f"/casussen/{case['id']}")
    assert "Report to Veilig Thuis: <strong>yes</strong>" in text(en)


def test_only_help_says_no_melding(ui_app, sqlite_people):
    hulp = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "B-2"})
    case = walk(sqlite_people, case, hulp.decisions, stop_at="hulp_organiseren")
    body = text(signed_in(ui_app, "mw").get(f"/casussen/{case['id']}"))
    assert "Melden bij Veilig Thuis: <strong>nee</strong>" in body
    assert 'data-track="melding"' not in body and 'data-track="hulp"' in body


# --- searching -----------------------------------------------------------------------------


def _some_cases(people):
    made = {}
    for owner, ref in (("mw", "AB-100"), ("mw", "AB-200"), ("mw", "X_50%"), ("lg", "AB-300")):
        made[ref] = cases.start_case(people[owner], {"client_ref": ref})["id"]
    return made


def test_mijn_casussen_searches_by_client_reference_and_owner(ui_app, sqlite_people):
    made = _some_cases(sqlite_people)
    mw = signed_in(ui_app, "mw")
    found = text(mw.get("/casussen?client_ref=ab-"))
    assert "AB-100" in found and "AB-200" in found and "X_50%" not in found
    assert "AB-300" not in found  # not mw's
    # % and _ are taken literally
    assert "AB-100" not in text(mw.get("/casussen?client_ref=%25"))
    assert "X_50%" in text(mw.get("/casussen?client_ref=_50%25"))
    assert "AB-100" not in text(mw.get("/casussen?client_ref=B_1"))
    lg = signed_in(ui_app, "lg")
    by_owner = text(lg.get("/casussen?owner=MW"))
    assert "AB-100" in by_owner and "AB-300" not in by_owner
    nothing = lg.get("/casussen?client_ref=ZZZ")
    assert "Geen casussen gevonden die bij uw zoekopdracht passen." in text(nothing)
    # the search and each case shown are in the access log
    assert access("search", "mw")[:1] == [None]
    shown = access("list_cases", "mw")
    assert made["AB-100"] in shown and made["AB-300"] not in shown


def test_a_bad_search_is_refused_in_dutch(ui_app, sqlite_people):
    _some_cases(sqlite_people)
    mw = signed_in(ui_app, "mw")
    long = mw.get("/casussen?client_ref=" + "a" * 101)
    assert long.status_code == 422 and "Zoek met ten hoogste 100 tekens." in text(long)
    control = mw.get("/casussen?owner=a%01b")
    assert control.status_code == 422 and "Bevat een ongeldig teken." in text(control)
    assert access("list_cases", "mw") == []  # nothing was shown


def test_the_auditors_list_searches_by_client_reference_and_owner(ui_app, sqlite_people):
    made = _some_cases(sqlite_people)
    aud = signed_in(ui_app, "aud")
    found = text(aud.get("/audit/casussen?client_ref=AB&owner=lg"))
    assert "AB-300" in found and "AB-100" not in found and "1 casus gevonden" in found
    assert "X_50%" in text(aud.get("/audit/casussen?client_ref=_5"))
    assert "AB-100" not in text(aud.get("/audit/casussen?client_ref=_5"))
    assert made["AB-300"] in access("list_search", "aud")
    bad = aud.get("/audit/casussen?owner=" + "x" * 101)
    assert bad.status_code == 422 and "Zoek met ten hoogste 100 tekens." in text(bad)


# --- in English ----------------------------------------------------------------------------


def test_the_new_pages_show_no_dutch_in_english(ui_app, sqlite_people):
    from tests.helpers import dutch_in

    case = cases.start_case(sqlite_people["mw"], {"client_ref": "E-1"})
    case = walk(sqlite_people, case, MELDEN_EN_HULP.decisions, stop_at="hulp_organiseren")
    lg = english(Client(ui_app), "lg")
    mw = english(Client(ui_app), "mw")
    hulp = next(t for t in case["tasks"] if t["step"] == "hulp_organiseren")
    first = cases.start_case(sqlite_people["mw"], {"client_ref": "E-2"})
    pages = {
        "team": lg.get("/team"),
        "casus": mw.get(f"/casussen/{case['id']}"),
        "taak na stap 5": mw.get(f"/taken/{hulp['id']}"),
        "taak": mw.get(f"/taken/{first['tasks'][0]['id']}"),
        "zoeken": mw.get("/casussen?client_ref=E-"),
        "zoeken, niets": mw.get("/casussen?client_ref=QQ"),
        "zoeken, fout": mw.get("/casussen?client_ref=" + "a" * 101),
        "audit zoeken": english(Client(ui_app), "aud").get("/audit/casussen?owner=m%01"),
    }
    assert "Step 1 of 5" in text(pages["taak"])
    found = {k: dutch_in(text(r)) for k, r in pages.items() if k != "casus"}
    # the case page: its statement of the decisions (the timeline holds the test's answers)
    decisions = re.search(r'<section class="panel decisions".*?</section>', text(pages["casus"]),
                          re.S)
    assert decisions and "What now runs side by side" in decisions.group(0)
    found["casus"] = dutch_in(decisions.group(0))
    assert not {k: v for k, v in found.items() if v}, found


def test_what_runs_after_stap5_follows_the_case():
    from engine import overview

    base = {"completed_steps": ["stap1_signalen", "stap5_beslissen"], "status": "open",
            "data": {"besluit_melden": True, "besluit_hulp": True,
                     "hulp_evaluatiedatum": "2026-12-01"}}
    assert overview.after_stap5({**base, "completed_steps": ["stap1_signalen"]}) is None
    ready = [{"step": "melding_doen", "name": "Melding doen"},
             {"step": "besluit_afstemmen", "name": "Afstemmen"}]
    found = overview.after_stap5({**base, "completed_steps": [*base["completed_steps"],
                                                              "hulp_organiseren"],
                                  "tasks": ready})
    states = {t["track"]: t for t in found["tracks"]}
    assert states["melding"]["state"] == "open" and states["melding"]["steps"] == ["Melding doen"]
    assert states["terugkoppeling"]["state"] == "waiting"
    assert states["hulp"]["state"] == "waiting"
    assert str(states["hulp"]["date"]) == "2026-12-01"
    assert states["afstemming"]["state"] == "open" and "igj" not in states
    # help evaluated and failed: the melding still to come is not done
    only_help = {**base, "data": {"besluit_melden": False, "besluit_hulp": True},
                 "completed_steps": [*base["completed_steps"], "hulp_organiseren",
                                     "hulp_evalueren"], "tasks": []}
    states = {t["track"]: t["state"] for t in overview.after_stap5(only_help)["tracks"]}
    assert states == {"afstemming": "waiting", "hulp": "done"}
    closed = {**only_help, "status": "closed"}
    assert {t["state"] for t in overview.after_stap5(closed)["tracks"]} == {"done"}
    assert overview.progress("stap4_wegen") == {"kind": "route", "number": 4, "total": 5}
    assert overview.progress("deskundige_raadplegen")["number"] == 2
    assert overview.progress("terugkoppeling_vt") == {"kind": "after"}
    assert overview.progress("consult") is None
