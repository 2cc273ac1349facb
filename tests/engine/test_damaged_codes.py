"""A case's status or uitkomst that is none of the contract's codes (made up by a database
writer) reads as a DamagedCode (engine/stored_text.py StoredCode): the case page names it, the
API answers a Dutch 409 naming the case instead of a 500 on a value its model does not know,
and `meldcode verify` names it as a problem of that case (issue 11 points 1 and 6)."""

from __future__ import annotations

import html
import json

import pytest

from engine import cases
from tests.helpers import Client, run_sql, text, verify


@pytest.mark.parametrize(("column", "value"), [("status", "weg"), ("uitkomst", "verzonnen")])
def test_an_unknown_code_is_named_never_a_500(app, client, people, db_url, column, value):
    bad = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    good = cases.start_case(people["mw"], {"client_ref": "Pietersen", "reason": "zorgen"})
    run_sql(db_url, f"UPDATE cases SET {column} = :v WHERE id = :c", v=value, c=bad["id"])
    # a read opens with the damage named, the value itself null (24faff4; it was a 409)
    api = client.get(f"/api/v1/cases/{bad['id']}", headers=people.auth("mw"))
    assert api.status_code == 200, (api.status_code, api.json)
    assert api.json[column] is None
    assert f"{column}: geen bekende waarde ('{value}')" in api.json["damaged"], api.json["damaged"]
    assert client.get(f"/api/v1/cases/{good['id']}", headers=people.auth("mw")).status_code == 200
    mw = Client(app)
    mw.login("mw")
    page = mw.get(f"/casussen/{bad['id']}")
    assert page.status_code in (200, 409)
    body = html.unescape(text(page))
    assert f"{column}: geen bekende waarde ('{value}')" in body, body
    assert mw.get("/casussen").status_code == 200  # the list with the damaged case opens
    dossier = mw.get(f"/casussen/{bad['id']}/dossier.json")
    assert dossier.status_code in (200, 409)
    if dossier.status_code == 200:  # the value as stored, said to be damaged
        assert f"{column}: geen bekende waarde" in json.loads(text(dossier))["case"]["damaged"]
    results = verify(bad["id"], good["id"])
    assert not results[bad["id"]].ok and results[good["id"]].ok
