"""Running the server: JSON logs with a request id, Prometheus metrics, /healthz and the
client address behind trusted proxies.

Logs: one JSON object per line on standard error, through structlog, for our own lines and
for those of Flask, gunicorn and the libraries alike. Every request gets an id (the trusted
proxy's X-Request-ID, or a new one), sent back in X-Request-ID and bound into every line
logged during that request. One line per request names method, path (never the query string,
which may hold a client reference), status, duration, user name and request id; errors are
logged with their traceback, never shown in the response.

Metrics: prometheus-client. Under `meldcode serve --metrics-port P` every worker writes its
counts to files in PROMETHEUS_MULTIPROC_DIR and the master serves their sum on 127.0.0.1:P.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import TYPE_CHECKING

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import text

from engine import config, store

if TYPE_CHECKING:
    from flask import Flask

# Flask is imported by the functions that run in a request, not with this module: the
# commands that only log in JSON (`meldcode verify`, `worker`) import it without the app.

log = structlog.get_logger("meldcode")

REQUEST_ID_HEADER = "X-Request-ID"
# What a request id from a proxy may look like: no room for log injection or huge values.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# --- logging -----------------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test runner swaps it)."""

    meldcode_json = True  # marks ours: configure_logging adds one only

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


_PRE_CHAIN: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_handler() -> logging.Handler:
    """A logging handler that writes each record as one JSON line to standard error, with the
    request's bound values (request_id), a standard-library record's `extra` fields and any
    traceback under "exception"."""
    handler = _StderrHandler()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        # ExtraAdder: the standard library's `extra={...}` (the planner's count of fired
        # timers, the outbox's item and error kind) are fields of the line, not dropped.
        foreign_pre_chain=[*_PRE_CHAIN, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    ))
    return handler


def configure_logging() -> None:
    """Route structlog and the standard library's logging through one JSON handler on the
    root logger (level from MELDCODE_LOG_LEVEL, default INFO). Safe to call more than once."""
    structlog.configure(
        processors=[*_PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    if not any(getattr(h, "meldcode_json", False) for h in root.handlers):
        root.addHandler(json_handler())
    level = config.current().log_level
    root.setLevel(level)
    # SpiffWorkflow logs every task state change at INFO: dozens of lines per completion that
    # cost more than the completion itself and say nothing the history does not.
    # WeasyPrint (and fontTools under it) tell at INFO how each PDF is laid out: about fifteen
    # lines per download, none of use to an operator.
    for chatty in ("spiff", "weasyprint", "fontTools"):
        logging.getLogger(chatty).setLevel(level if level == "DEBUG" else "WARNING")


def gunicorn_logger_class():
    """gunicorn's logger with its error log in our JSON (its own handlers replaced)."""
    from gunicorn.glogging import Logger

    class JsonLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)
            self.error_log.handlers = [json_handler()]

    return JsonLogger


# --- metrics -----------------------------------------------------------------------------------

REQUESTS = Counter("meldcode_http_requests_total", "HTTP-verzoeken per endpoint en status.",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("meldcode_http_request_duration_seconds", "Duur van HTTP-verzoeken.",
                    ["endpoint"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
# Completions and starts of real cases only: a practice case is in no figure (engine.practice;
# its start is on the practice page, which is not counted).
COMPLETIONS = Counter("meldcode_task_completions_total", "Afgeronde stappen.")
CASE_STARTS = Counter("meldcode_case_starts_total", "Gestarte casussen.")


def _of_practice_case(task_id: object) -> bool:
    """Whether the task belongs to a practice case (engine.practice), which the figures never
    count (issue 14 point 5). A read that fails counts as practice: better a real completion
    missing from the counter than a fictional one in it."""
    from engine import practice, tasks

    try:
        return practice.practice_case(tasks.case_of_task(task_id))
    except Exception:  # noqa: BLE001 - the metric must not turn a stored completion into a 500
        log.exception("metriek: casus van de taak niet te lezen; niet geteld")
        return True


def _count_domain_events(endpoint: str, response) -> None:
    from flask import g, request

    status = response.status_code
    if endpoint == "api.complete_task" and status == 200:
        # the view noted whether the case is a practice case: no read and no parsing of the
        # answer here, this runs on every completion
        if not g.get("completed_practice"):
            COMPLETIONS.inc()
    elif endpoint == "tasks.task" and request.method == "POST" and status == 302 \
            and request.form.get("actie") != "concept":
        if not _of_practice_case((request.view_args or {}).get("task_id")):
            COMPLETIONS.inc()
    elif endpoint == "api.start_case" and status == 201:
        CASE_STARTS.inc()
    elif endpoint == "cases.new_case" and request.method == "POST" and status == 302:
        CASE_STARTS.inc()


def serve_metrics(port: int) -> None:
    """Serve the sum of every worker's metrics (PROMETHEUS_MULTIPROC_DIR, which must be set
    before prometheus_client was first imported) on 127.0.0.1:`port`, in a thread of the
    calling process. Raises OSError when the port is taken."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr="127.0.0.1", registry=registry)


def worker_exited(_server, worker) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges no longer count."""
    from prometheus_client import multiprocess

    if config.current().prometheus_multiproc_dir:
        multiprocess.mark_process_dead(worker.pid)


# --- proxies -----------------------------------------------------------------------------------


def trusted_proxies() -> int:
    """MELDCODE_TRUSTED_PROXIES: how many proxies in front of the server set X-Forwarded-For
    (0, the default: none; the socket's peer is the client). Raises ValueError (Dutch) for
    anything but a whole number from 0 to 10 (engine.config.ConfigError)."""
    return config.current().trusted_proxies


# --- the app -----------------------------------------------------------------------------------


def _start() -> None:
    from flask import g, request

    g.started = time.perf_counter()
    wanted = request.headers.get(REQUEST_ID_HEADER, "") if g.get("trust_request_id") else ""
    g.request_id = wanted if _REQUEST_ID.fullmatch(wanted) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _user_name() -> str | None:
    from flask import g

    # Only what this request already looked up: no database read for the log line.
    principal = g.get("principal")
    if principal is not None:
        return principal.name
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user.name
    return None


def _finish(response):
    from flask import g, request

    if "request_id" not in g:  # a hook before ours answered first
        _start()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    if response.status_code == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = "2"
    seconds = time.perf_counter() - g.started
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "onbekend"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(seconds)
    _count_domain_events(endpoint, response)
    log.info("request", method=request.method, path=request.path, status=response.status_code,
             duration_ms=round(seconds * 1000, 1), user=_user_name())
    return response


def _teardown(_exc) -> None:
    structlog.contextvars.clear_contextvars()


def healthz():
    """200 {"status": "ok"} when the database answers SELECT 1, else 503; no sign-in."""
    from flask import jsonify

    try:
        with store.get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means: not healthy
        log.exception("healthz: de database antwoordt niet")
        return jsonify({"status": "database onbereikbaar"}), 503
    return jsonify({"status": "ok"})


def init_app(app: Flask) -> None:
    """JSON logs, request ids, metrics, /healthz, and ProxyFix for MELDCODE_TRUSTED_PROXIES.
    Raises ValueError for a wrong MELDCODE_TRUSTED_PROXIES."""
    from flask import g
    from flask.logging import default_handler
    from werkzeug.middleware.proxy_fix import ProxyFix

    configure_logging()
    app.logger.removeHandler(default_handler)
    proxies = trusted_proxies()
    if proxies:
        # The client address (sign-in limit, access log) is then the one the nearest trusted
        # proxy saw; without trusted proxies an X-Forwarded-For header is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]

    def start():
        g.trust_request_id = bool(proxies)  # only a trusted proxy may name the request id
        _start()

    # First of all before-request hooks, so a sign-in limit's 429 has its id too.
    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
