"""The worker class of `meldcode serve`: gunicorn's sync worker whose answer to a request it
cannot read (a request line longer than its limit, too many or too large headers, a bad
request line or header) is the contract's status with a short Dutch body, never gunicorn's
English HTML page ("414 Request-URI Too Long"). Issue 11 point 6, CONTRACT section 4: 400
malformed request, 413 too large. The limits themselves stay gunicorn's (webui/cli.py serve).

`Worker.handle_error` is gunicorn's documented extension point for this; the rest of the
worker is gunicorn's own. Outside any Flask request, so the texts are the catalogue's Dutch
msgids (marked N_), as the API answers when no language is asked for."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.http import errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

from engine.background import die_with_parent
from engine.messages import N_

TOO_LONG = N_(
    "Het adres van het verzoek is te lang (hoogstens {limit} tekens). Maak de "
    "zoekopdracht of het adres korter."
)
TOO_MANY_HEADERS = N_("Het verzoek heeft te veel of te grote kopregels (headers).")
BAD_REQUEST_LINE = N_(
    "Het verzoek is niet goed ontvangen: de eerste regel (methode, adres, HTTP-versie) is ongeldig."
)
BAD_HEADER = N_("Het verzoek is niet goed ontvangen: een kopregel (header) is ongeldig.")
BAD_BODY = N_("Het verzoek is niet goed ontvangen: de inhoud is ongeldig opgedeeld of gecodeerd.")
BAD_REQUEST = N_("Het verzoek is niet goed ontvangen.")
FORBIDDEN = N_("Dit verzoek is niet toegestaan.")
SERVER_ERROR = N_("Er ging iets mis aan onze kant. Probeer het later opnieuw.")

REASONS = {400: "Bad Request", 403: "Forbidden", 413: "Content Too Large", 500: "Internal Server Error"}


def _kinds(*names: str) -> tuple[type[BaseException], ...]:
    # by name: gunicorn adds exception classes over its versions (and its stubs lag behind)
    return tuple(getattr(errors, name) for name in names if hasattr(errors, name))


# (exception classes, status, text), the first that fits; InvalidResponseHeader is a kind of
# InvalidHeader but the application's fault, so it comes first
_REFUSALS: tuple[tuple[tuple[type[BaseException], ...], int, str], ...] = (
    (_kinds("InvalidResponseHeader", "InvalidResponseHeaderName", "ConfigurationProblem"), 500, SERVER_ERROR),
    (_kinds("LimitRequestLine"), 413, TOO_LONG),
    (_kinds("LimitRequestHeaders"), 413, TOO_MANY_HEADERS),
    (
        _kinds("InvalidRequestLine", "InvalidRequestMethod", "InvalidHTTPVersion", "InvalidH2CPreface"),
        400,
        BAD_REQUEST_LINE,
    ),
    (
        _kinds(
            "InvalidHeader",
            "InvalidHeaderName",
            "ObsoleteFolding",
            "InvalidSchemeHeaders",
            "ExpectationFailed",
        ),
        400,
        BAD_HEADER,
    ),
    (
        _kinds(
            "InvalidChunkSize", "ChunkMissingTerminator", "InvalidChunkExtension", "UnsupportedTransferCoding"
        ),
        400,
        BAD_BODY,
    ),
    (_kinds("ForbiddenProxyRequest"), 403, FORBIDDEN),
    (_kinds("ParseException"), 400, BAD_REQUEST),
)


def refusal(exc: BaseException, limit_request_line: int) -> tuple[int, str]:
    """The status (CONTRACT section 4) and Dutch text for an exception gunicorn raised while
    reading a request, or for any other that reached the worker (500: the server's fault)."""
    for kinds, status, text in _REFUSALS:
        if isinstance(exc, kinds):
            return status, text.format(limit=limit_request_line) if text is TOO_LONG else text
    return 500, SERVER_ERROR


def body(status: int, text: str, path: str | None) -> tuple[str, bytes]:
    """The content type and bytes of the answer: the API's error object for a request whose
    path is known to be under /api/ (CONTRACT section 4: {"error": ...}), else plain text."""
    if path is not None and path.startswith("/api/"):
        return "application/json", json.dumps({"error": text}, ensure_ascii=False).encode()
    return "text/plain; charset=utf-8", (text + "\n").encode()


class _FirstBytes:
    """A client socket that keeps the first bytes read from it. A request line over the limit
    is refused before gunicorn hands out any of it, yet its path decides whether the answer is
    the API's error object (CONTRACT section 4): the kept start of the line tells."""

    __slots__ = ("_sock", "head")
    KEEP = 64  # "GET /api/" fits many times over

    def __init__(self, sock: Any) -> None:
        self._sock, self.head = sock, b""

    def recv(self, size: int, *flags: int) -> bytes:
        data: bytes = self._sock.recv(size, *flags)
        if len(self.head) < self.KEEP:
            self.head += data[: self.KEEP - len(self.head)]
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def path_of(head: bytes) -> str | None:
    """The path of a request line's start ("GET /api/v1/cases?q=xxx..."), maybe cut short;
    None when it does not look like a request line."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) < 2 or not parts[1].startswith(b"/"):
        return None
    return parts[1].decode("latin-1")


class DutchSyncWorker(SyncWorker):
    """gunicorn's sync worker, answering requests it cannot read in Dutch (module doc), that
    dies with the server (die_with_parent)."""

    def init_process(self) -> None:
        """gunicorn's start of a worker, after the death signal is set (before gunicorn installs
        its own handler for SIGTERM: until then SIGTERM's default ends the process)."""
        die_with_parent(self.ppid)
        super().init_process()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        """gunicorn's handling, with the first bytes kept (_FirstBytes). A TLS socket is
        wrapped by gunicorn itself and left alone: its refusals stay plain text."""
        super().handle(listener, client if self.cfg.is_ssl else _FirstBytes(client), addr)  # type: ignore[arg-type]

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Write the refusal for `exc` to `client`, logged as gunicorn logs it (a warning for
        the client's fault, the traceback for the server's, an access-log line when the
        request line was read)."""
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket
        status, text = refusal(exc, self.cfg.limit_request_line)
        if status == 500:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        else:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
        read = getattr(exc, "req", None)  # a header error's request; a line error's text
        if req is None and isinstance(read, Request):
            req = read
        path = getattr(req, "path", None)
        if path is None and isinstance(client, _FirstBytes):
            path = path_of(client.head)
        kind, content = body(status, text, path)
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            resp = Response(req, client, self.cfg)
            resp.status = f"{status} {REASONS[status]}"
            resp.response_length = len(content)
            self.log.access(resp, req, environ, datetime.now() - started)
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\nConnection: close\r\n"
            f"Content-Type: {kind}\r\nContent-Length: {len(content)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin-1") + content)
        except Exception:  # noqa: BLE001 - the client is gone; as gunicorn's own handler
            self.log.debug("Failed to send error message.")
