"""Fixtures the web UI tests share: the Flask app on the SQLite database with one user per
role, and a browser-like test client on it."""

from __future__ import annotations

import pytest

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
