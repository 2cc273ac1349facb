"""A request gunicorn cannot read (a request line over its limit, too many or too large
headers, a bad request line or header) is answered by a real `meldcode serve` with the
contract's status and a short Dutch body, never gunicorn's English HTML page ("414
Request-URI Too Long"): issue 11 point 6, CONTRACT section 4 (400 malformed request, 413 too
large). The limits stay gunicorn's. Raw sockets: an HTTP library would refuse to send some
of these requests at all."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers import start_server, stop_server

ENGLISH = ("Bad Request", "Too Long", "Too Large", "Invalid", "<html", "Error parsing")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`meldcode serve` with one worker on a fresh SQLite database (no planner): its port
    and the master's process id."""
    home = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{home / 'meldcode.sqlite'}"
    env = {**os.environ, "MELDCODE_DATABASE_URL": url, "HOME": str(home), "MELDCODE_INSTANCE": str(home)}
    proc, port = start_server(env, "--workers", "1", "--no-worker")
    yield Served(port, proc.pid)
    stop_server(proc)


class Served(NamedTuple):
    port: int
    pid: int  # gunicorn's master


def ask(port: int, raw: bytes) -> tuple[int, dict[str, str], str]:
    """Send `raw` as it is; the status, headers (lower-case names) and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, content.decode("utf-8")


REQUESTS = {
    # name: (raw request, status, the Dutch words)
    "page-address-too-long": (
        b"GET /zoeken?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        413,
        "Het adres van het verzoek is te lang",
    ),
    "too-many-headers": (
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n",
        413,
        "te veel of te grote kopregels",
    ),
    "header-too-large": (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Groot: " + b"y" * 10_000 + b"\r\n\r\n",
        413,
        "te veel of te grote kopregels",
    ),
    "bad-request-line": (
        b"DIT IS GEEN HTTP\r\n\r\n",
        400,
        "de eerste regel (methode, adres, HTTP-versie) is ongeldig",
    ),
    "control-character-in-line": (
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        "de eerste regel (methode, adres, HTTP-versie) is ongeldig",
    ),
    "unknown-http-version": (
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        400,
        "de eerste regel (methode, adres, HTTP-versie) is ongeldig",
    ),
    "bad-header": (
        b"GET / HTTP/1.1\r\nHost: x\r\nGeen dubbele punt\r\n\r\n",
        400,
        "een kopregel (header) is ongeldig",
    ),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_request_gunicorn_cannot_read_is_refused_in_dutch(server, name):
    raw, status, words = REQUESTS[name]
    got, headers, content = ask(server.port, raw)
    assert got == status, (got, content)
    assert headers["content-type"] == "text/plain; charset=utf-8", headers
    assert words in content, content
    assert not any(word in content for word in ENGLISH), content
    assert len(content) < 200, content


def test_an_api_request_with_a_bad_header_gets_the_error_object(server):
    """Where the request line was read and names the API, the body is the API's
    {"error": ...} (CONTRACT section 4)."""
    got, headers, content = ask(
        server.port, b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: veel\r\n\r\n"
    )
    assert got == 400, content
    assert headers["content-type"] == "application/json", headers
    assert json.loads(content) == {
        "error": "Het verzoek is niet goed ontvangen: een kopregel (header) is ongeldig."
    }


@pytest.mark.parametrize("size", [9000, 100_000])
def test_an_api_address_too_long_gets_the_error_object(server, size):
    """A request line over gunicorn's limit is refused before it is parsed; the start that
    was read names the API, so the answer is its {"error": ...} (CONTRACT section 4), as a
    client of the API parses it. Was text/plain."""
    raw = b"GET /api/v1/cases?q=" + b"x" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    got, headers, content = ask(server.port, raw)
    assert got == 413, content
    assert headers["content-type"] == "application/json", headers
    assert json.loads(content) == {
        "error": "Het adres van het verzoek is te lang (hoogstens 8190 tekens). Maak de "
        "zoekopdracht of het adres korter."
    }


def workers(pid: int) -> set[int]:
    """The processes whose parent is `pid` (gunicorn's workers), read from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def test_the_worker_that_refused_them_lives_on(server):
    """Each refusal is written by the worker itself, which lives on: a handler that failed
    would end the worker (gunicorn boots another), and the client got no answer at all."""
    port = server.port
    assert ask(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
    before = workers(server.pid)
    assert len(before) == 1
    long_api = b"GET /api/v1/cases?q=" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for raw, status in [(raw, status) for raw, status, _words in REQUESTS.values()] + [(long_api, 413)]:
        assert ask(port, raw)[0] == status
    assert ask(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
    assert workers(server.pid) == before
