"""The auditor's views: filtered case lists, step-through frames, who viewed a case."""

import pytest

from engine import cases, oversight, timezones
from engine.errors import Forbidden, Invalid
from tests.helpers import finished_case
from tests.scenarios.paths import SCENARIOS


def test_filters(people):
    done = finished_case(people, SCENARIOS[0])
    cases.start_case(people["mw"], {"client_ref": "nog-open"})
    aud = people["aud"]
    everything = oversight.find_cases(aud, oversight.CaseFilter.parse({}))
    assert everything["total"] == 2
    closed = oversight.find_cases(aud, oversight.CaseFilter.parse({"status": "closed"}))
    assert [c["id"] for c in closed["cases"]] == [done["id"]]
    by_outcome = oversight.find_cases(aud, oversight.CaseFilter.parse(
        {"uitkomst": "zorgen_weggenomen"}))
    assert by_outcome["total"] == 1
    by_step = oversight.find_cases(aud, oversight.CaseFilter.parse({"step": "stap3_gesprek"}))
    assert [c["id"] for c in by_step["cases"]] == [done["id"]]
    future = oversight.find_cases(aud, oversight.CaseFilter.parse({"started_from": "2999-01-01"}))
    assert future["total"] == 0
    # The filter takes Dutch calendar days; the stored time is UTC (23:30 UTC is tomorrow here).
    today = timezones.local(done["started_at"]).date().isoformat()
    same_day = oversight.find_cases(aud, oversight.CaseFilter.parse(
        {"started_from": today, "started_to": today, "process_version": "1"}))
    assert same_day["total"] == 2
    with pytest.raises(Invalid) as info:
        oversight.CaseFilter.parse({"status": "x", "started_from": "gisteren", "page": "0"})
    assert set(info.value.errors) == {"status", "started_from", "page"}
    with pytest.raises(Forbidden):
        oversight.find_cases(people["mw"], oversight.CaseFilter())


def test_step_through_frames(people):
    case = finished_case(people, SCENARIOS[3])  # acuut: melden en hulp side by side
    result = oversight.step_through(people["aud"], case["id"])
    frames = result["frames"]
    assert result["verify"]["ok"]
    assert frames[0]["action"] == "case_started" and frames[0]["ready_steps"] == ["stap1_signalen"]
    assert frames[-1]["status"] == "closed" and frames[-1]["uitkomst"] == "gemeld_en_hulp"
    after_decision = next(f for f in frames if f["action"] == "decision_made")
    # the leidinggevende's afstemming is ready beside both branches (CONTRACT section 5)
    assert after_decision["ready_steps"] == ["besluit_afstemmen", "hulp_organiseren",
                                             "melding_voorbereiden"]
    assert after_decision["data"]["besluit_melden"] is True
    first = next(f for f in frames if f["step"] == "stap1_signalen")
    assert first["completed_steps"] == ["stap1_signalen"]
    assert "vermoeden" not in first["data"]
    with pytest.raises(Forbidden):
        oversight.step_through(people["mw"], case["id"])


def test_viewers_overview(people):
    case = cases.start_case(people["mw"], {"client_ref": "wie"})
    cases.get_case(people["lg"], case["id"])
    with pytest.raises(Forbidden):
        cases.get_case(people["mw2"], case["id"])
    result = oversight.viewers(people["aud"], case["id"])
    rows = {(p["user"], p["outcome"]): p for p in result["people"]}
    assert ("mw", "ok") in rows and ("lg", "ok") in rows and ("mw2", "denied") in rows
    assert rows[("aud", "ok")]["count"] == 1


def test_filter_days_are_dutch_days_written_as_yyyy_mm_dd(people):
    """The auditor's 'gestart vanaf/tot en met' are Dutch calendar days typed as JJJJ-MM-DD:
    an ISO week date (2026-W10-1, Monday 2 March) or 20260301 is refused as the overview for
    toezicht refuses it, and a case started at 00:30 Dutch time on 1 March (23:30 UTC the
    day before) and on 1 July (summer time, 22:30 UTC) belongs to that day."""
    from datetime import UTC, datetime

    from engine import clock

    for text in ("2026-W10-1", "2026W101", "20260301", "2026-060", "+2026-03-01",
                 "2026-03-01T00:00", "２０２６-03-01"):
        with pytest.raises(Invalid) as info:
            oversight.CaseFilter.parse({"started_from": text, "started_to": text})
        assert set(info.value.errors) == {"started_from", "started_to"}, text
        assert str(info.value.errors["started_from"]) == "Vul een datum in als JJJJ-MM-DD."
    ids = {}
    for name, at in (("maart", datetime(2026, 2, 28, 23, 30, tzinfo=UTC)),
                     ("juli", datetime(2026, 6, 30, 22, 30, tzinfo=UTC))):
        with clock.use(at):
            ids[name] = cases.start_case(people["mw"], {"client_ref": name})["id"]
    aud = people["aud"]

    def found(first, last):
        return [c["id"] for c in oversight.find_cases(aud, oversight.CaseFilter.parse(
            {"started_from": first, "started_to": last}))["cases"]]

    assert found("2026-03-01", "2026-03-01") == [ids["maart"]]
    assert found("2026-02-28", "2026-02-28") == []
    assert found("2026-07-01", "2026-07-01") == [ids["juli"]]
    assert found("2026-06-30", "2026-06-30") == []
    assert sorted(found("2026-03-01", "2026-07-01")) == sorted(ids.values())
    with pytest.raises(Invalid) as info:  # an end before the start, as the overview refuses it
        oversight.CaseFilter.parse({"started_from": "2026-03-02", "started_to": "2026-03-01"})
    assert {k: str(v) for k, v in info.value.errors.items()} == {
        "started_to": "De einddatum ligt vóór de begindatum."}
