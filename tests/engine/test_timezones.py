"""Times are stored in UTC and shown in Dutch time, whatever the server's own time zone: SQLite
gives stored times back naive, and a naive time must never be read as local time."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from engine import meldcode_doc, models, store, timezones

WINTER = datetime(2026, 1, 15, 12, 0)  # UTC, naive as SQLite returns it: 13:00 in Amsterdam
SUMMER = datetime(2026, 7, 1, 12, 0)  # 14:00 in Amsterdam (summer time)


@pytest.fixture
def amsterdam_server():
    """The server's own zone is Europe/Amsterdam (TZ), as on a Dutch machine."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Amsterdam"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_a_naive_time_is_utc(amsterdam_server):
    assert time.localtime(0).tm_hour == 1  # (the zone is in force)
    assert timezones.to_utc(WINTER) == WINTER.replace(tzinfo=UTC)
    assert timezones.to_utc(None) is None
    plus_two = datetime(2026, 7, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert timezones.to_utc(plus_two) == SUMMER.replace(tzinfo=UTC)
    assert timezones.local(WINTER).hour == 13 and timezones.local(SUMMER).hour == 14
    assert timezones.local("2026-01-15T12:00:00Z").hour == 13
    assert timezones.iso(WINTER) == "2026-01-15T12:00:00.000000Z"
    assert timezones.iso_seconds(plus_two) == "2026-07-01T12:00:00Z"
    assert timezones.local_text(WINTER) == "15 januari 2026, 13:00"
    assert timezones.local_text("2026-07-01T12:00:07+00:00", seconds=True) == "1 juli 2026, 14:00:07"
    assert timezones.local_text(None) == "—"


@pytest.mark.parametrize("deployed,shown", [(WINTER, "15 januari 2026, 13:00"),
                                            (SUMMER, "1 juli 2026, 14:00")])
def test_the_deploy_time_shows_in_dutch_time_on_a_dutch_server(sqlite_url, amsterdam_server,
                                                               deployed, shown):
    # It showed an hour early: SQLite's naive UTC time was read as the server's local time.
    with store.unit_of_work(write=True) as session:
        session.execute(update(models.ProcessVersion).values(deployed_at=deployed))
    from flask_babel import force_locale

    from webui import create_app, documents

    deployed_at = meldcode_doc.build()["deployed_at"]  # data: UTC; webui shows it in Dutch time
    assert deployed_at == deployed.replace(tzinfo=UTC)
    with create_app({"TESTING": True}).app_context(), force_locale("nl"):
        assert documents.local_time(deployed_at) == shown


def test_the_web_pages_show_dutch_time_on_a_dutch_server(sqlite_url, amsterdam_server):
    from webui import create_app
    from webui.web import when

    with create_app({"TESTING": True}).test_request_context("/"):
        assert when(WINTER) == "15 januari 2026 om 13:00"
        assert when(SUMMER) == "1 juli 2026 om 14:00"
        assert when(SUMMER.replace(tzinfo=UTC)) == "1 juli 2026 om 14:00"
        assert when(None) == when("") == ""


@pytest.mark.parametrize("text", ["2026-07-01T12:00:00Z", "2026-07-01"])
def test_a_page_never_parses_a_time_again(sqlite_url, text):
    """Pages get times as datetimes from the engine (its views' `stamp`); ISO text that
    reaches web.when is a mistake to find, not something to parse again (issue 12)."""
    from datetime import date

    from webui import create_app
    from webui.web import when

    with create_app({"TESTING": True}).test_request_context("/"):
        with pytest.raises(TypeError):
            when(text)
        with pytest.raises(TypeError):
            when(date(2026, 7, 1))  # type: ignore[arg-type]
