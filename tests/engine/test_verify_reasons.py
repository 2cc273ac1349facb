"""Verify and the checkpoint loader name what is wrong in Dutch (engine/failures.py): the kind
of problem with its place (JSON line and column, the column that is no UTF-8), never Python's
own words ("JSONDecodeError: Expecting ...", "Invalid isoformat string", "[Errno 2] ...").
In English where the reader asks for it (the API with Accept-Language: en)."""

from __future__ import annotations

import pytest

from engine import checkpoints
from tests.helpers import cli, finished_case, run_sql

PYTHON_WORDS = ("Error", "Expecting", "Invalid isoformat", "Errno", "No such file",
                "could not", "Could not", "decode")

BROKEN = {
    # SQL, the Dutch reason verify gives, "sqlite" where PostgreSQL's column types refuse it
    "case data": ("UPDATE cases SET data = '{\"a\": 1,}' WHERE id = :c",
                  "de casusrij is onleesbaar (ongeldige gegevens of tijd): geen geldige JSON "
                  "(regel 1, kolom 9)", "sqlite"),
    "event data": ("UPDATE history_events SET data = '[kapot' WHERE case_id = :c AND seq = 2",
                   "geen geldige JSON (regel 1, kolom 2)", "sqlite"),
    "event time": ("UPDATE history_events SET at = 'gisteren' WHERE case_id = :c AND seq = 2",
                   "de geschiedenis is onleesbaar (een gebeurtenis met ongeldige gegevens of "
                   "tijd): geen geldig tijdstip", "sqlite"),
    "access-log time": ("UPDATE access_log SET at = 'xx' WHERE case_id = :c",
                        "het toegangslog is onleesbaar: geen geldig tijdstip", "sqlite"),
    "event actor no UTF-8": ("UPDATE history_events SET actor = CAST(X'ff' AS TEXT) "
                             "WHERE case_id = :c AND seq = 2",
                             # read as damaged text (StoredText, 35b0e02): the event's hash
                             "gebeurtenis 2 (task_completed, stap1_signalen): de inhoud is na "
                             "het vastleggen gewijzigd", "sqlite"),
    "nested too deep": ("UPDATE cases SET data = '" + "[" * 100_000 + "]" * 100_000
                        + "' WHERE id = :c", "te diep geneste gegevens", "sqlite"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_verify_names_the_kind_of_problem_in_dutch(people, db_url, kind):
    sql, reason, only = BROKEN[kind]
    if only == "sqlite" and not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's own column types refuse this value")
    case = finished_case(people)
    run_sql(db_url, sql, c=case["id"])
    result = cli("verify", str(case["id"]))
    assert result.exit_code == 1, result.output
    assert reason in result.output, result.output
    block = result.output.split("logboek:")[0]
    assert not any(word in block for word in PYTHON_WORDS), block


def test_verify_over_the_api_in_english(client, people, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's json type refuses this value")
    case = finished_case(people)
    run_sql(db_url, "UPDATE cases SET data = '{\"a\": 1,}' WHERE id = :c", c=case["id"])
    for language, text in (("nl", "geen geldige JSON (regel 1, kolom 9)"),
                           ("en", "not valid JSON (line 1, column 9)")):
        r = client.get(f"/api/v1/cases/{case['id']}/verify",
                       headers={**people.auth("aud"), "Accept-Language": language})
        assert r.status_code == 200, r.data
        assert any(text in p for p in r.json["problems"]), r.json
        assert not any(w in p for p in r.json["problems"] for w in PYTHON_WORDS), r.json


def test_a_checkpoint_that_cannot_be_read_is_named_in_dutch(people, db_url, tmp_path):
    missing = tmp_path / "weg.json"
    result = cli("verify", "--all", "--checkpoint", str(missing))
    assert result.exit_code == 1, result.output
    assert f"Het controlepunt {missing} is niet te lezen: het bestand bestaat niet" in result.output
    outputs = [result.output]
    broken = tmp_path / "kapot.json"
    broken.write_text('{"tree_size": 1,\n  "root" "x"}')
    result = cli("verify", "--all", "--checkpoint", str(broken))
    assert result.exit_code == 1, result.output
    assert "niet te lezen: geen geldige JSON (regel 2, kolom 10)" in result.output
    outputs.append(result.output)
    assert not any(word in output for output in outputs for word in PYTHON_WORDS), outputs
    folder = tmp_path / "map.json"  # click refuses a folder given as --checkpoint: the loader
    folder.mkdir()
    with pytest.raises(checkpoints.CheckpointError) as refused:
        checkpoints.load_checkpoint(folder)
    assert str(refused.value) == f"Het controlepunt {folder} is niet te lezen: dit is een map, geen bestand"
