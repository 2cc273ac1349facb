"""A time no Python datetime holds (PostgreSQL's 'infinity') or text that is no time (SQLite)
in a case row, a history event or an access-log line: verify names the value, in Dutch, as a
problem of that case (issue 11 points 1 and 6; engine/stored_rows.refused), and
failures.kind_of names the value of the driver's own error instead of "de database gaf een
fout"."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import DataError

from engine import cases, failures, verification
from tests.helpers import run_sql

WHERE = {
    "cases.started_at": "UPDATE cases SET started_at = {v} WHERE id = :c",
    "history_events.at": "UPDATE history_events SET at = {v} WHERE case_id = :c AND seq = 1",
    "access_log.at": "UPDATE access_log SET at = {v} WHERE id = "
    "(SELECT min(id) FROM access_log WHERE case_id = :c)",
}


def test_the_driver_s_infinity_is_named_by_its_value():
    exc = DataError("SELECT", {}, psycopg.DataError("timestamp too large (after year 10K): 'infinity'"))
    assert str(failures.kind_of(exc)) == "een waarde buiten het bereik ('infinity')"


@pytest.mark.parametrize("column", list(WHERE))
def test_verify_names_a_damaged_time(people, db_url, column):
    case = cases.start_case(people["mw"], {"client_ref": "tijd"})
    other = cases.start_case(people["mw"], {"client_ref": "heel"})
    value = "'gisteren'" if db_url.startswith("sqlite") else "'infinity'"
    run_sql(db_url, WHERE[column].format(v=value), c=case["id"])
    words = (
        "geen geldig tijdstip" if db_url.startswith("sqlite") else "een waarde buiten het bereik ('infinity')"
    )
    verdicts = {v.case_id: v for v in verification.verify_all()}
    problems = [str(p) for p in verdicts[case["id"]].problems]
    assert any(words in p for p in problems), problems
    assert verdicts[other["id"]].problems == []
