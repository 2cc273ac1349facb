"""Every time on a page is shown in Dutch time (Europe/Amsterdam), from a datetime the engine
hands over, never from ISO text parsed again (issue 12): the admin log, a case's access log,
its history step by step, who looked at it, a user's API tokens and the process versions, on
SQLite (naive UTC datetimes) whether the server's own zone is UTC or Europe/Amsterdam."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from engine import (
    audit,
    cases,
    clock,
    definitions,
    models,
    oversight,
    process_admin,
    store,
    timezones,
    tokens,
)
from engine.definitions import SourceFile
from tests.helpers import Client, relabelled, store_version

WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Amsterdam
SUMMER = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)  # 14:00 in Amsterdam (summer time)




@pytest.fixture(params=[(WINTER, "13:00"), (SUMMER, "14:00")], ids=["winter", "summer"])
def moment(request, server_zone):
    """Every time the engine stores (engine/clock.py: timezones.now_utc, models.utcnow) is
    the moment's."""
    at, shown = request.param
    with clock.use(at):
        yield at, shown


def _shows(html: str, shown: str, at: datetime, path: str) -> None:
    """`html` shows the time as `shown` (Dutch time) after the year, and never as UTC."""
    year = at.year
    assert re.search(rf"{year},?(?: om)? {shown}\b", html), (path, shown)
    assert not re.search(rf"{year},?(?: om)? {at:%H:%M}\b", html), (path, "UTC shown")


def test_every_page_shows_its_times_in_dutch_time(moment, sqlite_url, sqlite_people,
                                                  monkeypatch):
    at, shown = moment
    people = sqlite_people
    # a second version (not active, so its activation page names its deploy time); both
    # deployed at `at`, the first stored naive as SQLite gives it back
    files = definitions.shipped_files()
    store_version([SourceFile(f.name, relabelled(" (2)")) if f.kind == "bpmn" else f
                   for f in files], monkeypatch, active=False)
    with store.unit_of_work(write=True) as session:
        session.execute(update(models.ProcessVersion).values(deployed_at=at.replace(tzinfo=None)))
    case = cases.start_case(people["mw"], {"client_ref": "tijd"})
    cases.get_case(people["lg"], case["id"])
    assert case["started_at"] == audit.iso(at)  # the clock is in force

    from webui import create_app

    app = create_app({"TESTING": True})
    pages = {
        "aud": ["/beheerlog", f"/audit/casussen/{case['id']}/toegangslog",
                f"/audit/casussen/{case['id']}", f"/audit/casussen/{case['id']}/inzage",
                "/audit/casussen", "/processen"],
        "bh": ["/beheer/gebruikers/mw"],
        "pb": ["/processen", "/processen/2/actief"],
        "mw": ["/casussen"],
    }
    for who, paths in pages.items():
        client = Client(app)
        client.login(who)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            _shows(response.get_data(as_text=True), shown, at, path)


def test_the_engine_gives_pages_datetimes_and_the_api_iso_text(sqlite_url, sqlite_people):
    """The same engine views: a page gets aware UTC datetimes (stamp=timezones.to_utc), the
    API and the command line the ISO 8601 UTC text they always had."""
    people = sqlite_people
    case = cases.start_case(people["mw"], {"client_ref": "tijd"})
    aud = people["aud"]
    page_times = [
        *(e["at"] for e in oversight.access_log_page(aud, case["id"])["entries"]),
        *(f["at"] for f in oversight.history_page(aud, case["id"])["frames"]),
        *(v["deployed_at"] for v in process_admin.versions_page(aud)["versions"]),
        process_admin.version_summary(people["pb"], 1)["deployed_at"],
    ]
    with store.unit_of_work() as session:
        page_times += [r["at"] for r in audit.admin_log(session, stamp=timezones.to_utc)]
        listed = tokens.list_tokens(session, "mw", stamp=timezones.to_utc)
        page_times += [t["created"] for t in listed]
        assert [t["expires"] for t in listed] == [tokens.NEVER]
        texts = [r["at"] for r in audit.admin_log(session)]
        cli = tokens.list_tokens(session, "mw")
    assert page_times and all(isinstance(t, datetime) and t.utcoffset() is not None
                              and t.utcoffset().total_seconds() == 0 for t in page_times)
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    texts += [e["at"] for e in oversight.access_log(aud, case["id"])]
    texts += [f["at"] for f in oversight.step_through(aud, case["id"])["frames"]]
    texts += [v["deployed_at"] for v in process_admin.list_versions(aud)]
    assert texts and all(iso.match(t) for t in texts), texts
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", cli[0]["created"])
    assert cli[0]["expires"] == "-"
