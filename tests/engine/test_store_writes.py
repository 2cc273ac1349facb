"""SQLite writers queue on a lock beside the database, across threads and processes."""

import subprocess
import sys
import threading
import time

from sqlalchemy import text

from engine import store
from tests.conftest import ROOT

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from sqlalchemy import text
from engine import store
print("klaar", flush=True)
t0 = time.perf_counter()
with store.unit_of_work(write=True, url={url!r}) as session:
    session.execute(text("INSERT INTO settings (key, value) VALUES ('uit-ander-proces', '1')"))
print(time.perf_counter() - t0)
"""


def test_a_writer_in_another_process_waits_its_turn(sqlite_url):
    with store.unit_of_work(write=True, url=sqlite_url) as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES ('eerst', '1')"))
        other = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), url=sqlite_url)],
                                 stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline().strip() == "klaar"  # imported, about to write
        time.sleep(1.0)
        assert other.poll() is None, "the other process wrote while we held the write lock"
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0
    assert 0.9 < float(out) < 10  # it waited for us, then went on at once
    with store.unit_of_work(url=sqlite_url) as session:
        keys = session.execute(text("SELECT key FROM settings ORDER BY key")).scalars().all()
    assert {"eerst", "uit-ander-proces"} <= set(keys)


def test_threads_write_one_after_another(sqlite_url):
    inside, overlaps = [0], []

    def write(k: int) -> None:
        with store.unit_of_work(write=True, url=sqlite_url) as session:
            inside[0] += 1
            overlaps.append(inside[0])
            session.execute(text("INSERT INTO settings (key, value) VALUES (:k, '1')"), {"k": f"t{k}"})
            time.sleep(0.01)
            inside[0] -= 1

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1] * 8
    with store.unit_of_work(url=sqlite_url) as session:
        n = session.execute(text("SELECT count(*) FROM settings WHERE key LIKE 't%'")).scalar()
    assert n == 8
