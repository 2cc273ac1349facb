"""Issue 11 (fresh tester): a first write on a unique key by several writers at the same moment
is never a 500. On PostgreSQL (writers are not serial there) three concurrent POST
/beheer/instellingen on a database with no settings row failed with UniqueViolation
settings_pkey (engine/organisation.update read, then inserted); now one upsert per setting.
`meldcode user add` of one new name at once: one user, the others 'bestaat al', never an
IntegrityError. Real threads, real requests, the real server database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text as sql

from engine import accounts, store
from engine.errors import Invalid
from tests.helpers import DOCUMENT_SETTINGS as SETTINGS
from tests.helpers import PASSWORD, Client, verify_all

WRITERS = 6


def at_once(work, count: int = WRITERS) -> list:
    """Run work(i) in `count` threads released together; what each returned or raised."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_first_settings_saves_are_no_500(app, people, db_url):
    with store.unit_of_work() as session:
        assert session.execute(sql("SELECT count(*) FROM settings")).scalar_one() == 0
    clients = []
    for _ in range(WRITERS):
        client = Client(app)
        client.login("bh")
        client.get("/beheer/instellingen")
        clients.append(client)
    names = [f"Zorggroep {i}" for i in range(WRITERS)]
    answers = at_once(
        lambda i: (
            clients[i].post("/beheer/instellingen", {**SETTINGS, "organisatie_naam": names[i]}).status_code
        )
    )
    assert answers == [302] * WRITERS, answers
    with store.unit_of_work() as session:
        query = "SELECT value FROM settings WHERE key = 'organisatie_naam'"
        stored = session.execute(sql(query)).scalar_one()
    assert stored in names or str(stored).strip('"') in names, stored
    code, output = verify_all()
    assert code == 0, output


def test_concurrent_adds_of_one_new_name_make_one_user(people, db_url):
    def add(_i: int):
        return accounts.add_user("operator", "nieuw", ["medewerker"], PASSWORD)

    outcomes = at_once(add)
    made = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, Invalid)]
    assert len(made) == 1 and len(refused) == WRITERS - 1, outcomes
    assert all("bestaat al" in str(o.message) for o in refused), outcomes
    with store.unit_of_work() as session:
        assert session.execute(sql("SELECT count(*) FROM users WHERE name = 'nieuw'")).scalar_one() == 1
    assert verify_all()[0] == 0


@pytest.fixture(autouse=True)
def _postgresql_only(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite's writers take turns (store.write_queue): no first write races there")
