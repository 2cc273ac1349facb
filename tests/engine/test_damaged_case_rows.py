"""Issue 11, "refuse hostile state": every column of a case row, its history events and its
access-log lines, and the owner a case names, damaged in the database (server stopped; SQLite
keeps bytes, text and 64-bit numbers anywhere, PostgreSQL a time its driver cannot read) is a
named Dutch finding of that case in `meldcode verify --all` (exit 1, never 2), the pages and
the API still open (never a 500, nor a 400 that blames the reader), and a completion that
would build on the damaged row is refused (409, Dutch) with nothing stored. A damaged
users.session_version refuses a new password (nothing stored) and sign-out still works.
SQLite and PostgreSQL, each damage where the database takes it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text as sql

from engine import errors, store, tasks, users
from tests.conftest import PASSWORD
from tests.helpers import Client, verify_all, where_taken
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, fill

BYTES = "CAST(X'ff41' AS TEXT)"  # bytes that are no UTF-8 (SQLite keeps them in any column)
BLOB = "CAST('abc' AS BLOB)"  # a hash stored as bytes instead of text
BIG = "9223372036854775807"  # 2^63 - 1: SQLite's largest integer
PG_BIG = "2147483647"  # 2^31 - 1: PostgreSQL's largest INTEGER, one more does not fit
FAR = "'9999-12-31 23:59:59'"
ACCESS = "id = (SELECT min(id) FROM access_log WHERE case_id = :c)"
EVENT = "case_id = :c AND seq = 2"
CASE = "id = :c"
OUT = "een waarde buiten het bereik"

# kind -> (table, column, value as SQL, where, the database that takes it, what verify says,
# whether a completion builds on it: refused)
DAMAGE = {
    "header_hash-bytes": (
        "cases",
        "header_hash",
        BYTES,
        CASE,
        "sqlite",
        "header_hash: bytes die geen tekst zijn",
        True,
    ),
    # a header that no longer matches its keyed hash takes no write either (write_refusals)
    "header_hash-blob": ("cases", "header_hash", BLOB, CASE, "sqlite", "de kop van de casus", True),
    "last_hash-blob": ("cases", "last_hash", BLOB, CASE, "sqlite", "niet die welke haar kop", True),
    "access_head-bytes": (
        "cases",
        "access_head",
        BYTES,
        CASE,
        "sqlite",
        "access_head: bytes die geen tekst zijn",
        True,
    ),
    "event_count-text": ("cases", "event_count", "'x'", CASE, "sqlite", "geen getal ('x')", True),
    "event_count-big": ("cases", "event_count", BIG, CASE, "sqlite", f"{OUT} ({BIG})", True),
    "event_count-pg-big": ("cases", "event_count", PG_BIG, CASE, "postgresql", f"{OUT} ({PG_BIG})", True),
    "access_count-big": ("cases", "access_count", BIG, CASE, "sqlite", f"{OUT} ({BIG})", True),
    "access_count-pg-big": ("cases", "access_count", PG_BIG, CASE, "postgresql", f"{OUT} ({PG_BIG})", True),
    "id_counter-text": ("cases", "id_counter", "'x'", CASE, "sqlite", "geen getal ('x')", True),
    "version_id-text": ("cases", "version_id", "'x'", CASE, "sqlite", "geen getal ('x')", True),
    "version_id-pg-big": ("cases", "version_id", PG_BIG, CASE, "postgresql", f"{OUT} ({PG_BIG})", True),
    "practice-text": ("cases", "practice", "'x'", CASE, "sqlite", "geen ja/nee-waarde ('x')", True),
    "started_at-far": ("cases", "started_at", FAR, CASE, "both", f"{OUT} ('9999-12-31 23:59:59", True),
    "started_at-pg-10000": (
        "cases",
        "started_at",
        "'10000-01-01'",
        CASE,
        "postgresql",
        f"{OUT} ('10000-01-01",
        True,
    ),
    "owner_id-gone": (
        "cases",
        "owner_id",
        "999",
        CASE,
        "both",
        "de eigenaar (gebruiker 999) bestaat niet",
        True,
    ),
    "event-hash-blob": ("history_events", "hash", BLOB, EVENT, "sqlite", "hash klopt niet", False),
    "event-at-far": ("history_events", "at", FAR, EVENT, "both", f"{OUT} ('9999-12-31 23:59:59", False),
    "access-outcome": (
        "access_log",
        "outcome",
        "'bogus'",
        ACCESS,
        "both",
        "geen bekende waarde ('bogus')",
        False,
    ),
    "access-hash-blob": ("access_log", "hash", BLOB, ACCESS, "sqlite", "toegangslog regel 1", False),
    "access-at-far": ("access_log", "at", FAR, ACCESS, "both", f"{OUT} ('9999-12-31 23:59:59", False),
}

ROUTES = (
    ("mw", "/"),
    ("mw", "/casussen"),
    ("mw", "/casussen/{c}"),
    ("mw", "/casussen/{c}/afdrukken"),
    ("mw", "/casussen/{c}/dossier.json"),
    ("mw", "/taken/{t}"),
    ("lg", "/team"),
    ("lg", "/casussen/{c}"),
    ("aud", "/audit/casussen"),
    ("aud", "/audit/casussen/{c}"),
    ("aud", "/audit/casussen/{c}/toegangslog"),
    ("aud", "/audit/casussen/{c}/inzage"),
    ("aud", "/toezicht"),
    ("mw", "/api/v1/cases/{c}"),
    ("mw", "/api/v1/cases/{c}/history"),
    ("aud", "/api/v1/cases/{c}"),
    ("aud", "/api/v1/cases/{c}/access-log"),
    ("aud", "/api/v1/cases/{c}/verify"),
)


def state(case_id: int) -> tuple:
    """What a completion would change: the number of events and task rows of the case."""
    with store.unit_of_work() as session:
        events = session.execute(
            sql("SELECT count(*) FROM history_events WHERE case_id = :c"), {"c": case_id}
        ).scalar_one()
        rows = session.execute(
            sql("SELECT count(*) FROM tasks WHERE case_id = :c"), {"c": case_id}
        ).scalar_one()
    return events, rows


# each kind on the databases that take its value (the others refuse it themselves)
TAKEN = where_taken({kind: damage[4] for kind, damage in DAMAGE.items()})


@pytest.fixture
def damaged(kind, people, db_url):
    """A case of mw past its first step with the damage planted, and a sound case beside it."""
    table, column, value, where, _, _, _ = DAMAGE[kind]
    mw = people["mw"]
    from engine import cases

    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    first = tasks.get_task(mw, case["tasks"][0]["id"])
    case = tasks.complete_task(mw, first["id"], fill(first["form"]["fields"], LONGEST.decisions))
    good = cases.start_case(mw, {"client_ref": "Pietersen", "reason": "zorgen"})
    write(db_url, f'UPDATE {table} SET "{column}" = {value} WHERE {where}', c=case["id"])
    return kind, case, good


@TAKEN
def test_verify_names_the_damage_and_checks_the_rest(damaged):
    kind, case, good = damaged
    code, output = verify_all()  # a traceback fails here (the runner raises it)
    assert code == 1, output
    assert f"casus {case['id']}: NIET IN ORDE" in output, output
    assert DAMAGE[kind][5] in output, output
    assert f"casus {good['id']}: in orde" in output, output


@TAKEN
def test_pages_and_api_open(app, people, damaged):
    kind, case, _good = damaged
    signed_in: dict[str, Client] = {}
    for role, path in ROUTES:
        route = path.format(c=case["id"], t=case["tasks"][0]["id"])
        if route.startswith("/api/"):
            response = app.test_client().get(route, headers=people.auth(role))
        else:
            if role not in signed_in:
                signed_in[role] = Client(app)
                signed_in[role].login(role)
            response = signed_in[role].http.get(route, base_url="http://localhost")
        body = response.get_data(as_text=True) if response.mimetype != "application/pdf" else ""
        assert response.status_code in (200, 403, 404, 409), (
            kind,
            role,
            route,
            response.status_code,
            body[:600],
        )
        # a time shown as 1970; not those digits inside a hash (the dossier's JSON holds dozens)
        assert "Traceback" not in body and not re.search(r"\b1970\b", body), (kind, role, route, body[:600])


@where_taken({kind: damage[4] for kind, damage in DAMAGE.items() if damage[6]})  # built on
def test_a_completion_on_the_damaged_row_is_refused_and_stores_nothing(people, damaged):
    kind, case, _good = damaged
    before = state(case["id"])
    task_id = case["tasks"][0]["id"]
    with pytest.raises(errors.DomainError) as refused:
        mw = people["mw"]
        task = tasks.get_task(mw, task_id)
        tasks.complete_task(mw, task_id, fill(task["form"]["fields"], LONGEST.decisions))
    assert refused.value.status in (403, 409), refused.value
    if refused.value.status == 409:
        assert f"De gegevens van casus {case['id']} zijn beschadigd opgeslagen" in str(
            refused.value.message
        ), refused.value.message
    assert state(case["id"]) == before


@where_taken({"'x'": "sqlite", BIG: "sqlite", PG_BIG: "both"})
def test_a_damaged_session_version_is_refused_and_sign_out_works(app, people, db_url, kind):
    value = kind
    mw = Client(app)
    mw.login("mw")
    write(db_url, f"UPDATE users SET session_version = {value} WHERE name = 'mw'")
    assert mw.logout().status_code < 500  # the session already ended (its seal): never a 500
    with store.unit_of_work(write=True) as session, pytest.raises(errors.Conflict) as refused:
        users.set_password(session, "mw", "Een heel ander wachtwoord 77!")
    assert "De gegevens van gebruiker mw zijn beschadigd opgeslagen (session_version:" in str(
        refused.value.message
    )
    code, output = verify_all()
    assert code == 1 and "gebruiker mw (id" in output, output
    other = Client(app)
    assert other.login("mw2", PASSWORD).status_code == 302
