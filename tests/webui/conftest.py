"""Fixtures the web UI tests share: the Flask app on the SQLite database with one user per
role, and a browser-like test client on it."""

from __future__ import annotations

import pytest

from engine import store, tokens, users
from tests.conftest import PASSWORD
from tests.helpers import Client


@pytest.fixture
def ui_app(sqlite_url, sqlite_people):
    from webui import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def browser_like(ui_app):
    return Client(ui_app)


@pytest.fixture
def checkpoint_dir(tmp_path, monkeypatch):
    """An empty MELDCODE_CHECKPOINT_DIR for this test (the restore tests set checkpoints aside
    from it)."""
    folder = tmp_path / "controlepunten"
    folder.mkdir()
    monkeypatch.setenv("MELDCODE_CHECKPOINT_DIR", str(folder))
    return folder


@pytest.fixture
def doctor_api(app, people, db_url):
    """Call the API as `arts`, a KNMG doctor (medewerker of `lg`)."""
    with store.unit_of_work(write=True, url=db_url) as session:
        users.create_user(session, "arts", ["medewerker"], PASSWORD, "lg", beroepsgroep="artsen")
        token = tokens.create_token(session, "arts")
    client = app.test_client()

    def call(method, path, status=200, **kw):
        response = client.open(
            f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw
        )
        assert response.status_code == status, response.get_json()
        return response.get_json()

    return call
