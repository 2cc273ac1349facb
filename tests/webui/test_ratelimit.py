"""The sign-in limiter counts in the database: one count for every server process."""

import os
import threading
import time

import requests

from tests.conftest import LiveServer
from tests.helpers import TOKEN
from webui.ratelimit import DatabaseStorage

KEY = "LIMITER/127.0.0.1/auth.login/3/1/minute"


def test_concurrent_hits_are_all_counted(db_url):
    storage = DatabaseStorage("meldcode://")
    barrier = threading.Barrier(8)

    def hit():
        barrier.wait()
        for _ in range(5):
            storage.incr(KEY, 60)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert storage.get(KEY) == 40
    assert storage.get("LIMITER/10.0.0.9/auth.login/3/1/minute") == 0
    assert time.time() + 55 < storage.get_expiry(KEY) <= time.time() + 60


def test_an_expired_window_starts_again(db_url):
    storage = DatabaseStorage("meldcode://")
    assert [storage.incr(KEY, 1) for _ in range(3)] == [1, 2, 3]
    time.sleep(1.1)
    assert storage.get(KEY) == 0
    assert storage.incr(KEY, 60) == 1
    storage.clear(KEY)
    assert storage.get(KEY) == 0
    assert storage.check()


def test_two_servers_share_the_login_limit(db_url, people):
    """Two `meldcode serve` processes on one database (as two workers, or two machines behind
    a load balancer): failed attempts at either count towards one limit. With counts in
    process memory, each server would allow three."""
    env = dict(os.environ, MELDCODE_DATABASE_URL=db_url, MELDCODE_WORKERS="1",
               MELDCODE_LOGIN_RATE_LIMIT="3 per minute")
    servers = [LiveServer(db_url, env), LiveServer(db_url, env)]
    try:
        statuses = []
        for server in servers * 2:
            with requests.Session() as browser:
                page = browser.get(f"{server.base}/aanmelden")
                statuses.append(browser.post(f"{server.base}/aanmelden", data={
                    "csrf_token": TOKEN.search(page.text).group(1), "naam": "mw",
                    "wachtwoord": "fout-fout-fout",
                }, allow_redirects=False).status_code)
        assert statuses == [401, 401, 401, 429]
    finally:
        for server in servers:
            server.stop()
