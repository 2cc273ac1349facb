"""Working days and due dates (engine/due.py, CONTRACT section 5 "Team and time"): Dutch
public holidays, weekends and the switch to and from summer time, computed the same under
TZ=Europe/Amsterdam and TZ=UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine import due

AMS = ZoneInfo("Europe/Amsterdam")


# Every test here runs with the server in Dutch time and in UTC (tests/conftest.py
# server_zone): the answers are the same.
pytestmark = pytest.mark.usefixtures("server_zone")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def feedback(at: datetime, after: str | None = "melding_doen") -> datetime | None:
    return due.due_at("terugkoppeling_vt", "medewerker", {}, at, {}, after=after)


@pytest.mark.parametrize(("melding", "expected"), [
    # Friday before Koningsdag (Monday 27 April 2026): Tue, Wed, Thu, Fri 1 May, Mon 4 May
    (local(2026, 4, 24, 14, 0), utc(2026, 5, 4, 21, 59)),
    # Christmas Eve: Mon 28 to Thu 31 December, New Year's Day is off: Monday 4 January 2027,
    # winter time (23:59 CET is 22:59 UTC)
    (local(2026, 12, 24, 10, 0), utc(2027, 1, 4, 22, 59)),
    # Before Easter: Good Friday 3 April and Easter Monday 6 April 2026 off: Tue 7 .. Mon 13
    (local(2026, 4, 2, 9, 0), utc(2026, 4, 13, 21, 59)),
    # Before Hemelvaart (Thursday 14 May 2026): Fri 15, Mon 18 .. Thu 21
    (local(2026, 5, 13, 16, 30), utc(2026, 5, 21, 21, 59)),
    # On a Saturday: the week after, Monday to Friday
    (local(2026, 11, 7, 11, 0), utc(2026, 11, 13, 22, 59)),
    # 00:30 on Friday 23 October in Dutch time is still Thursday in UTC: the day of the melding
    # is Friday; summer time ends on Sunday 25 October, so the due date is in winter time
    (local(2026, 10, 23, 0, 30), utc(2026, 10, 30, 22, 59)),
    # 23:30 on Thursday 22 October: Thursday, also in UTC (21:30)
    (local(2026, 10, 22, 23, 30), utc(2026, 10, 29, 22, 59)),
    # Summer time begins on Sunday 29 March 2026; Good Friday and Easter Monday are off
    (local(2026, 3, 27, 12, 0), utc(2026, 4, 7, 21, 59)),
])
def test_feedback_is_due_at_the_end_of_the_fifth_working_day(melding, expected):
    found = feedback(melding)
    assert found == expected
    assert found.tzinfo is not None and found.utcoffset().total_seconds() == 0
    shown = found.astimezone(AMS)
    assert (shown.hour, shown.minute) == (23, 59) and due.is_working_day(shown.date())
    # the same from the UTC time of the melding and from a naive UTC time (as SQLite gives it)
    assert feedback(melding.astimezone(UTC)) == expected
    assert feedback(melding.astimezone(UTC).replace(tzinfo=None)) == expected


def test_a_further_feedback_is_due_ten_weeks_later_on_a_working_day():
    assert feedback(local(2026, 12, 2, 10, 0), after="terugkoppeling_vt") == utc(2027, 2, 10, 22, 59)
    # ten weeks after Thursday 25 February 2027 is Hemelvaart (6 May 2027): the day after
    assert feedback(local(2027, 2, 25, 10, 0), after="terugkoppeling_vt") == utc(2027, 5, 7, 21, 59)
    # ready without a completed step (e.g. a timer): counted as after a melding
    assert feedback(local(2026, 12, 2, 10, 0), after=None) == utc(2026, 12, 9, 22, 59)


def test_the_steps_follow_the_organisations_norm():
    ready = local(2026, 11, 30, 9, 0)  # Monday
    for step in ("stap1_signalen", "stap2_overleg", "stap3_gesprek", "stap4_wegen",
                 "stap5_beslissen", "melding_voorbereiden", "melding_voorbespreken",
                 "melding_doen", "hulp_organiseren"):
        assert due.due_at(step, "medewerker", {}, ready, {}) == utc(2026, 12, 7, 22, 59)
        assert due.due_at(step, "medewerker", {}, ready, {due.NORM_KEY: 3}) == utc(2026, 12, 3, 22, 59)
        assert due.due_at(step, "medewerker", {}, ready, {due.NORM_KEY: 1}) == utc(2026, 12, 1, 22, 59)
    # an unusable norm counts as the default
    for bad in (0, -2, True, "3", 3.0, None, due.MAX_NORM + 1):
        assert due.due_at("stap1_signalen", "medewerker", {}, ready, {due.NORM_KEY: bad}) \
            == utc(2026, 12, 7, 22, 59)


def test_an_urgent_task_is_due_the_same_day():
    """With acute unsafety the melding tasks are urgent: due the end of the day they became
    ready (Dutch time), on a Saturday too, not within the norm of 5 working days."""
    for ready, expected in ((local(2026, 11, 30, 9, 0), utc(2026, 11, 30, 22, 59)),
                            (local(2026, 11, 28, 23, 30), utc(2026, 11, 28, 22, 59)),
                            (local(2026, 6, 1, 0, 10), utc(2026, 6, 1, 21, 59))):
        for step in ("melding_voorbereiden", "melding_voorbespreken", "melding_doen"):
            assert due.due_at(step, "medewerker", {}, ready, {}, urgent=True) == expected
            assert due.due_at(step, "medewerker", {}, ready, {}) != expected
    # urgency only shortens the route's norm; the feedback keeps its five working days
    assert due.due_at("terugkoppeling_vt", "medewerker", {}, local(2026, 11, 30, 9, 0), {},
                      after="melding_doen", urgent=True) == utc(2026, 12, 7, 22, 59)


def test_afstemming_consult_evaluation_and_steps_without_a_due_date():
    christmas_eve = local(2026, 12, 24, 15, 0)
    assert due.due_at("besluit_afstemmen", "leidinggevende", {}, christmas_eve, {}) \
        == utc(2026, 12, 29, 22, 59)
    assert due.due_at("consult", "aandachtsfunctionaris", {}, local(2026, 4, 24, 9, 0), {}) \
        == utc(2026, 4, 29, 21, 59)
    # hulp_evalueren: the end of its evaluation date, in winter or in summer time
    for data, expected in (({"hulp_evaluatiedatum": "2027-01-15"}, utc(2027, 1, 15, 22, 59)),
                           ({"hulp_evaluatiedatum": "2027-06-15"}, utc(2027, 6, 15, 21, 59)),
                           ({"hulp_evaluatiedatum": date(2027, 6, 15)}, utc(2027, 6, 15, 21, 59)),
                           ({}, None), ({"hulp_evaluatiedatum": "gisteren"}, None)):
        assert due.due_at("hulp_evalueren", "medewerker", data, christmas_eve, {}) == expected
    assert due.due_at("een_eigen_stap", "medewerker", {}, christmas_eve, {}) is None


def test_working_day_arithmetic():
    assert not due.is_working_day(date(2026, 4, 27))  # Koningsdag
    assert not due.is_working_day(date(2026, 12, 26))  # Tweede Kerstdag (a Saturday too)
    assert not due.is_working_day(date(2026, 5, 25))  # Pinkstermaandag
    assert not due.is_working_day(date(2026, 11, 29))  # a Sunday
    assert due.is_working_day(date(2026, 5, 4))
    assert due.add_working_days(date(2026, 11, 28), 0) == date(2026, 11, 28)
    assert due.add_working_days(date(2026, 11, 28), 1) == date(2026, 11, 30)
    assert due.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    with pytest.raises(ValueError):
        due.add_working_days(date(2026, 11, 28), -1)
    # overdue by working days: a task due on Friday 24 April 2026, still open on Tuesday 5 May
    assert due.working_days_between(date(2026, 4, 24), date(2026, 5, 5)) == 6
    assert due.working_days_between(date(2026, 4, 24), date(2026, 4, 27)) == 0
    assert due.working_days_between(date(2026, 5, 5), date(2026, 4, 24)) == 0
    assert due.end_of_day(date(2026, 3, 29)) == utc(2026, 3, 29, 21, 59)  # the day it begins
    assert due.end_of_day(date(2026, 10, 25)) == utc(2026, 10, 25, 22, 59)  # the day it ends
    assert due.is_overdue(utc(2026, 5, 4, 21, 59), utc(2026, 5, 4, 22, 0))
    assert not due.is_overdue(utc(2026, 5, 4, 21, 59), datetime(2026, 5, 4, 21, 59))
    assert not due.is_overdue(None, utc(2030, 1, 1))
