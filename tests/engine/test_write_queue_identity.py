"""One SQLite database, one write queue, however its URL is spelled (issue 11 point 3,
engine/store.py write_queue keyed by log_head.identity): keyed by the path as typed, a writer
through a link to the file took a lock file of its own beside the link and never waited for a
writer through the plain path, and a nested write through `./` waited on its own thread's
lock until DatabaseBusy."""

from __future__ import annotations

import os
import threading

from engine import store


def _spellings(sqlite_url: str) -> tuple[str, str, str]:
    """The plain URL, one through `./` and one through a link beside the file."""
    path = sqlite_url.removeprefix("sqlite:///")
    folder, name = os.path.split(path)
    link = os.path.join(folder, "koppeling.sqlite")
    os.symlink(path, link)
    return sqlite_url, f"sqlite:///{folder}/./{name}", f"sqlite:///{link}"


def test_a_writer_through_a_link_waits_for_one_through_the_plain_path(sqlite_url, monkeypatch):
    monkeypatch.setenv("MELDCODE_WRITE_LOCK_TIMEOUT", "0.5")
    plain, _dotted, linked = _spellings(sqlite_url)
    outcome: list[str] = []

    def other_writer() -> None:
        try:
            with store.write_queue(store.get_engine(linked)):
                outcome.append("erin")
        except store.DatabaseBusy:
            outcome.append("bezet")

    with store.write_queue(store.get_engine(plain)):
        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(10)
    assert outcome == ["bezet"]
    assert not os.path.exists(linked + "-writelock")


def test_a_nested_write_through_dot_slash_is_the_same_turn(sqlite_url, monkeypatch):
    monkeypatch.setenv("MELDCODE_WRITE_LOCK_TIMEOUT", "0.5")
    plain, dotted, _linked = _spellings(sqlite_url)
    with store.write_queue(store.get_engine(plain)), store.write_queue(store.get_engine(dotted)):
        pass
