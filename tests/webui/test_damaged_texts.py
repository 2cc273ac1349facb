"""A client reference or reason that a database writer stored as bytes that are no UTF-8
(SQLite keeps any bytes in a text column): the case still opens everywhere (API, pages,
lists, dossier), never a 500. The unreadable bytes show as U+FFFD, the access-log line
records the reference as shown, the case page says the case is damaged, and verify (API and
command line) names the field (engine.stored_text, engine.chains.check_header)."""

from __future__ import annotations

import pytest

from engine import cases
from tests.helpers import Client, cli, run_sql, text

DAMAGED_REF = "\ufffdA"  # X'ff41' as read: the byte that is no UTF-8 replaced, the rest kept


@pytest.fixture
def damaged(people, db_url):
    """Two cases of mw; the first one's client_ref and reason overwritten with bytes that are no
    UTF-8 (SQLite only: PostgreSQL refuses such bytes itself)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses bytes that are no UTF-8 in a text column")
    bad = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    good = cases.start_case(people["mw"], {"client_ref": "Pietersen", "reason": "zorgen"})
    run_sql(db_url, "UPDATE cases SET client_ref = CAST(X'ff41' AS TEXT), "
                    "reason = CAST(X'7a6fc3' AS TEXT) WHERE id = :c", c=bad["id"])
    return bad, good


def test_the_api_answers_the_damaged_case(client, people, db_url, damaged):
    bad, good = damaged
    c = bad["id"]
    r = client.get(f"/api/v1/cases/{c}", headers=people.auth("mw"))
    assert r.status_code == 200, r.data
    assert r.json["client_ref"] == DAMAGED_REF and r.json["reason"] == "zo\ufffd"
    for path in (f"/api/v1/cases/{c}/history", "/api/v1/tasks"):
        assert client.get(path, headers=people.auth("mw")).status_code == 200, path

    r = client.get(f"/api/v1/cases/{c}/verify", headers=people.auth("aud"))
    assert r.status_code == 200, r.data
    assert r.json["ok"] is False
    problems = r.json["problems"]
    assert any(p.startswith("de cliëntreferentie is beschadigd opgeslagen") for p in problems), problems
    assert any(p.startswith("de reden is beschadigd opgeslagen") for p in problems), problems
    assert not any("toegangslog" in p for p in problems), problems  # the lines since are sound
    english = client.get(f"/api/v1/cases/{c}/verify",
                         headers={**people.auth("aud"), "Accept-Language": "en"}).json["problems"]
    assert any(p.startswith("the client reference is stored damaged") for p in english), english

    r = client.get(f"/api/v1/cases/{c}/access-log", headers=people.auth("aud"))
    assert r.status_code == 200, r.data
    # each read logged, and the line records the reference as it was shown
    actions = [e["action"] for e in r.json]
    assert {"read", "read_history", "verify", "read_access_log"} <= set(actions), actions
    assert {e["client_ref"] for e in r.json if e["action"] == "verify"} == {DAMAGED_REF}
    assert client.get(f"/api/v1/cases/{good['id']}/verify",
                      headers=people.auth("aud")).json["ok"] is True


def test_the_pages_show_the_damaged_case(app, people, db_url, damaged):
    bad, good = damaged
    c = bad["id"]
    web = Client(app)
    web.login("mw")
    for path in ("/", "/casussen", f"/casussen/{c}/afdrukken", f"/casussen/{c}/dossier.json",
                 f"/taken/{bad['tasks'][0]['id']}"):
        assert web.get(path).status_code == 200, path
    pdf = web.http.get(f"/casussen/{c}/dossier.pdf")  # bytes: not read as a page
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    listed = text(web.get("/casussen"))
    assert DAMAGED_REF in listed and "Pietersen" in listed
    page = web.get(f"/casussen/{c}")
    body = text(page)
    assert page.status_code == 200
    assert "Deze casus is beschadigd opgeslagen" in body
    assert "De cliëntreferentie en de reden van deze casus" in body
    assert "beschadigd opgeslagen" not in text(web.get(f"/casussen/{good['id']}"))

    auditor = Client(app)
    auditor.login("aud")
    for path in ("/audit/casussen", f"/audit/casussen/{c}/toegangslog",
                 f"/audit/casussen/{c}/inzage"):
        assert auditor.get(path).status_code == 200, path
    history = auditor.get(f"/audit/casussen/{c}")
    assert history.status_code == 200
    assert "de cliëntreferentie is beschadigd opgeslagen" in text(history)


def test_verify_on_the_command_line_names_the_field(people, db_url, damaged):
    bad, good = damaged
    result = cli("verify", str(bad["id"]), str(good["id"]))
    assert result.exit_code == 1, result.output
    assert "de cliëntreferentie is beschadigd opgeslagen" in result.output
    assert "de reden is beschadigd opgeslagen" in result.output
    assert f"casus {good['id']}: in orde" in result.output
