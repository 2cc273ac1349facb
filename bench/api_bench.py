"""Benchmark: cases along the longest meldcode route through the HTTP API of a real server.

    .venv/bin/python bench/api_bench.py [--cases 1000] [--database-url URL]
    .venv/bin/python bench/api_bench.py --against CHECKOUT [--cases 200]

Starts `meldcode serve` on loopback over a fresh database that already holds 10,000 cases,
runs cases along the longest route (every step, the melding twice), and prints: median and
p95 latency of one task completion (one client), completions per second with 4 concurrent
clients, bytes stored per finished case, the time to list a user's ready tasks with 100,000
cases stored, and the same route through bare SpiffWorkflow in-process as the ratio base.
The last line is `RESULT ...`.

With --against, the completion latency of this checkout is compared with another one (a git
worktree of an older commit with its own .venv): each runs its own server on a database its
own code prepared, and one client runs a case on each in turn, so a machine whose speed drifts
over minutes slows both alike. The RESULT line then gives both medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from bench import bare  # noqa: E402
from tests.scenarios.paths import LONGEST, fill  # noqa: E402

PASSWORD = "bench-wachtwoord-lang-genoeg"


def log(msg: str) -> None:
    print(msg, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --- database preparation -----------------------------------------------------------------------


LEAD_TOKEN: dict[str, str] = {}  # per database: the leidinggevende of every bench-mw


def prepare(url: str, clients: int) -> dict[str, str]:
    from engine import schema, store, users, versions
    from engine.tokens import create_token

    schema.upgrade(url)
    tokens = {}
    with store.unit_of_work(write=True, url=url) as session:
        versions.ensure_deployed(session, by="bench")
        users.create_user(session, "bench-lg", ["leidinggevende"], PASSWORD)
        LEAD_TOKEN[url] = create_token(session, "bench-lg")  # completes besluit_afstemmen
        for i in range(clients):
            name = f"bench-mw{i}"
            users.create_user(session, name, ["medewerker"], PASSWORD, "bench-lg")
            tokens[name] = create_token(session, name)
        for i in range(100):
            users.create_user(session, f"seed{i}", ["medewerker"], PASSWORD)
    return tokens


def seed_cases(url: str, total: int) -> None:
    """Bring the database to `total` stored cases: real started cases, then copies of them
    (a started case each, with its task row and history event) inserted in bulk."""
    from engine import store, users
    from engine.cases import start_case
    from engine.models import Case, HistoryEvent, TaskRecord, User

    with store.unit_of_work(url=url) as session:
        have = session.scalar(select(text("count(*)")).select_from(Case.__table__))
        seeders = list(session.scalars(select(User).where(User.name.like("seed%"))))
        principals = [users.Principal.of(u) for u in seeders]
    if have >= total:
        return
    if have == 0:
        for p in principals[:10]:
            start_case(p, {"client_ref": f"seed-{p.name}"})
        have = 10
    with store.unit_of_work(url=url) as session:
        template = session.scalars(select(Case).limit(1)).first()
        task = session.scalars(select(TaskRecord).where(TaskRecord.case_id == template.id)).first()
        event = session.scalars(
            select(HistoryEvent).where(HistoryEvent.case_id == template.id)).first()
        start_id = session.scalar(select(text("max(id)")).select_from(Case.__table__)) + 1
    batch = 5000
    next_id = start_id
    while have < total:
        n = min(batch, total - have)
        cases, tasks, events = [], [], []
        for k in range(n):
            cid = next_id + k
            owner = principals[cid % len(principals)].id
            cases.append(dict(
                id=cid, client_ref=f"seed-{cid}", reason="", owner_id=owner,
                process_version=template.process_version, status="open",
                started_at=template.started_at, workflow_state=template.workflow_state,
                data={}, completed_steps=[], id_counter=template.id_counter,
                last_hash=template.last_hash, event_count=1, version_id=1,
            ))
            tasks.append(dict(id=f"seed-{cid}", case_id=cid, step=task.step, name=task.name,
                              lane=task.lane, owner_id=owner, state="ready",
                              ready_at=task.ready_at))
            events.append(dict(case_id=cid, seq=1, at=event.at, actor=event.actor,
                               action=event.action, step=None, task_id=None, data=event.data,
                               prev_hash=event.prev_hash, hash=event.hash))
        with store.unit_of_work(write=True, url=url) as session:
            session.execute(insert(Case), cases)
            session.execute(insert(TaskRecord), tasks)
            session.execute(insert(HistoryEvent), events)
        next_id += n
        have += n
    if url.startswith("postgresql"):
        with store.get_engine(url).connect() as conn:
            conn.execute(text(f"SELECT setval('cases_id_seq', {next_id})"))
            conn.execute(text("ANALYZE"))
            conn.commit()


def db_bytes(url: str) -> int:
    from engine import store

    engine = store.get_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar()
            return (pages - free) * size
        return conn.execute(text("SELECT pg_database_size(current_database())")).scalar()


# --- the HTTP client side -----------------------------------------------------------------------


class Api:
    """A minimal JSON-over-HTTP/1.1 client on a plain socket: one connection per call with
    `Connection: close`, as the server's sync workers answer anyway. The clients share the
    server's two cores, so they are kept light: `requests` spent about 2 ms of CPU per call
    here and http.client 0.6-0.9 ms (mostly parsing headers with the email package); that is
    load generator, not product."""

    def __init__(self, base: str, token: str):
        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.head = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\nConnection: close\r\n")

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else b""
        request = (f"{method} {path} HTTP/1.1\r\n{self.head}"
                   f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(60)
            sock.connect(self.address)
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):  # the server closes after the response
                chunks.append(chunk)
        head, _, raw = b"".join(chunks).partition(b"\r\n\r\n")
        status = int(head[9:12])
        if b"transfer-encoding: chunked" in head.lower():
            raise RuntimeError(f"{method} {path}: chunked responses are not supported here")
        payload = json.loads(raw)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {payload}")
        return payload


class Client:
    def __init__(self, base: str, token: str, lead_token: str | None = None):
        self.api = Api(base, token)
        # the leidinggevende's task (besluit_afstemmen) is completed with their token
        self.lead = Api(base, lead_token) if lead_token else self.api
        self.forms: dict[str, list] = {}
        self.by_step: dict[str, list[float]] = {}  # each completion's latency, per step

    def run_case(self, ref: str, latencies: list[float]) -> str:
        case = self.api.call("POST", "/api/v1/cases", {"client_ref": ref})
        while case["tasks"]:
            task = case["tasks"][0]
            api = self.api if task["lane"] == "medewerker" else self.lead
            fields = self.forms.get(task["step"])
            if fields is None:
                fields = api.call("GET", f"/api/v1/tasks/{task['id']}")["form"]["fields"]
                self.forms[task["step"]] = fields
            data = fill(fields, LONGEST.decisions)
            t0 = time.perf_counter()
            case = api.call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
            latencies.append(time.perf_counter() - t0)
            self.by_step.setdefault(task["step"], []).append(latencies[-1])
        assert case["uitkomst"] == LONGEST.uitkomst, case
        return case["id"]


def start_server(url: str, port: int, env: dict, root: Path = ROOT) -> subprocess.Popen:
    """`meldcode serve` of the checkout `root` on `port`, once it answers."""
    proc = subprocess.Popen(
        [str(root / ".venv" / "bin" / "meldcode"), "serve", "--port", str(port)],
        env={**env, "MELDCODE_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5)
            return proc
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise RuntimeError("server did not start")


# --- this checkout against another, taking turns ----------------------------------------------


def prepare_with(checkout: Path, url: str, env: dict) -> tuple[str, str | None]:
    """Prepare and seed the database `url` with the bench code of `checkout` (in its own
    .venv), as a plain run of that checkout would. Out: a medewerker's token and the
    leidinggevende's (None when that code has no task for them)."""
    script = (
        "import json, sys; sys.path.insert(0, '.'); from bench import api_bench as b; "
        f"t = b.prepare({url!r}, 1); b.seed_cases({url!r}, 10_000); "
        f"print(json.dumps([next(iter(t.values())), getattr(b, 'LEAD_TOKEN', {{}}).get({url!r})]))")
    done = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-c", script],
                          cwd=checkout, env={**env, "MELDCODE_DATABASE_URL": url},
                          capture_output=True, text=True, check=True)
    token, lead = json.loads(done.stdout.strip().splitlines()[-1])
    return token, lead


def against(other: Path, cases: int, tmp: Path, env: dict) -> None:
    """Completion latency of this checkout and of `other`, one case on each in turn (the
    order swapped every round), over `cases` rounds; prints both and the RESULT line."""
    sides = {"this": ROOT, "other": other}
    heads = {side: git_head(root) for side, root in sides.items()}
    servers, clients = [], {}
    try:
        for k, (side, root) in enumerate(sides.items()):
            side_env = {**env, "MELDCODE_INSTANCE": str(tmp / side)}
            (tmp / side).mkdir()
            url = f"sqlite:///{tmp / side / 'bench.sqlite'}"
            token, lead = prepare_with(root, url, side_env)
            port = 18000 + (os.getpid() + 7 * k) % 1000
            servers.append(start_server(url, port, side_env, root))
            base = f"http://127.0.0.1:{port}"
            clients[side] = Client(base, token, lead)
            log(f"{side}: {root} ({heads[side]}), server on port {port}")
        latencies: dict[str, list[float]] = {side: [] for side in sides}
        for client in clients.values():
            for i in range(3):
                client.run_case(f"warm-{i}", [])
        for i in range(cases):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for side in order:
                clients[side].run_case(f"turn-{i}", latencies[side])
            if (i + 1) % 50 == 0:
                log(f"  {i + 1}/{cases} rounds")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=60)
    figures = {side: (statistics.median(lat) * 1000, percentile(lat, 0.95) * 1000, len(lat))
               for side, lat in latencies.items()}
    for side, (median_ms, p95_ms, count) in figures.items():
        log(f"{side}: {count} completions, median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms")
    steps = sorted({*clients["this"].by_step, *clients["other"].by_step})
    log("median per step (ms): step, this, other")
    for step in steps:
        this, other = (clients[side].by_step.get(step) for side in ("this", "other"))
        log(f"  {step:28} {statistics.median(this) * 1000 if this else float('nan'):7.2f} "
            f"{statistics.median(other) * 1000 if other else float('nan'):7.2f}")
    ratio = figures["this"][0] / figures["other"][0]
    # The bare engine on each checkout's own diagram, in turns too: how much of a difference
    # is SpiffWorkflow's own work on a bigger diagram, how much the product's around it.
    bare_ms: dict[str, list[float]] = {side: [] for side in sides}
    for i in range(6):
        for side in list(sides) if i % 2 == 0 else list(reversed(sides)):
            bare_ms[side].append(bare_median_with(sides[side], env))
    engine = {side: statistics.median(values) for side, values in bare_ms.items()}
    for side in sides:
        log(f"{side}: bare SpiffWorkflow on its own diagram {engine[side]:.3f} ms per completion,"
            f" the product around it {figures[side][0] - engine[side]:.2f} ms")
    log(f"RESULT against={heads['other']} median_ms={figures['this'][0]:.2f} "
        f"other_median_ms={figures['other'][0]:.2f} ratio_median={ratio:.3f} "
        f"p95_ms={figures['this'][1]:.2f} other_p95_ms={figures['other'][1]:.2f} "
        f"bare_ms={engine['this']:.3f} other_bare_ms={engine['other']:.3f} "
        f"product_ms={figures['this'][0] - engine['this']:.2f} "
        f"other_product_ms={figures['other'][0] - engine['other']:.2f}")


def bare_median_with(checkout: Path, env: dict, cases: int = 20) -> float:
    """The median time (ms) of one completion along the longest route in bare SpiffWorkflow,
    in-process, with the bench code and diagram of `checkout` (its own .venv)."""
    script = ("import statistics, sys; sys.path.insert(0, '.'); from bench import api_bench as b;"
              f" print(statistics.median(b.bare_engine({cases})) * 1000)")
    done = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-c", script],
                          cwd=checkout, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def git_head(root: Path) -> str:
    """The short commit id checked out at `root` ("?" when it is no git checkout)."""
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "?"


# --- bare SpiffWorkflow, the ratio base ---------------------------------------------------------


def bare_engine(cases: int) -> list[float]:
    """The same route in-process with SpiffWorkflow's own parser and script engine."""
    spec, engine = bare.spec_and_engine()
    forms = bare.shipped_forms()
    times: list[float] = []
    for _ in range(cases):
        bare.run_case(spec, engine, LONGEST.decisions, forms, times.append)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases along the longest route")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--against", type=Path, default=None, metavar="CHECKOUT",
                        help="compare the completion latency with another checkout, in turns")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="meldcode-bench-"))
    env = dict(os.environ, MELDCODE_INSTANCE=str(tmp),
               MELDCODE_HISTORY_KEY="bench-0123456789abcdef0123456789abcdef",
               MELDCODE_SECRET_KEY="bench-0123456789abcdef0123456789abcdef")
    os.environ.update(env)
    if args.against is not None:
        against(args.against.resolve(), args.cases, tmp, env)
        return
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite'}"
    os.environ["MELDCODE_DATABASE_URL"] = url

    log(f"database: {url.split('@')[-1]}")
    tokens = prepare(url, args.clients)
    t0 = time.perf_counter()
    seed_cases(url, 10_000)
    log(f"seeded 10,000 cases in {time.perf_counter() - t0:.1f} s")

    port = 18000 + os.getpid() % 1000
    server = start_server(url, port, env)
    base = f"http://127.0.0.1:{port}"
    names = list(tokens)
    try:
        # 1. latency: one client, a quarter of the cases
        sequential = max(1, args.cases // 4)
        client = Client(base, tokens[names[0]], LEAD_TOKEN.get(url))
        client.run_case("warm-up", [])
        latencies: list[float] = []
        size_before = db_bytes(url)
        t0 = time.perf_counter()
        for i in range(sequential):
            client.run_case(f"lat-{i}", latencies)
            if (i + 1) % 50 == 0:
                log(f"  latency run: {i + 1}/{sequential} cases")
        size_after = db_bytes(url)
        bytes_per_case = (size_after - size_before) / sequential
        median_ms = statistics.median(latencies) * 1000
        p95_ms = percentile(latencies, 0.95) * 1000
        log(f"completion latency (1 client, {len(latencies)} completions): "
            f"median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms "
            f"({time.perf_counter() - t0:.1f} s)")
        log(f"stored per finished case: {bytes_per_case:,.0f} bytes")

        # 2. throughput: 4 concurrent clients, the rest of the cases
        remaining = args.cases - sequential
        per_client = max(1, remaining // args.clients)
        counts = [0] * args.clients
        errors: list[BaseException] = []

        def worker(k: int):
            c = Client(base, tokens[names[k % len(names)]], LEAD_TOKEN.get(url))
            lat: list[float] = []
            try:
                for i in range(per_client):
                    c.run_case(f"thr-{k}-{i}", lat)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            counts[k] = len(lat)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise errors[0]
        per_s = sum(counts) / elapsed
        log(f"throughput ({args.clients} clients, {per_client * args.clients} cases, "
            f"{sum(counts)} completions): {per_s:.0f} completions/s")
        total_cases = 1 + sequential + per_client * args.clients
        log(f"cases run along the longest route: {total_cases}")

        # 3. listing a user's ready tasks with 100,000 cases stored
        t0 = time.perf_counter()
        seed_cases(url, 100_000)
        log(f"seeded up to 100,000 cases in {time.perf_counter() - t0:.1f} s")
        lister = Api(base, tokens[names[0]])
        client.run_case("list-1", [])
        for k in range(3):  # leave three cases open with a ready task
            lister.call("POST", "/api/v1/cases", {"client_ref": f"open-{k}"})
        list_times = []
        for _ in range(100):
            t1 = time.perf_counter()
            listed = lister.call("GET", "/api/v1/tasks")
            list_times.append(time.perf_counter() - t1)
        assert len(listed) == 3, listed
        list_ms = statistics.median(list_times) * 1000
        log(f"list ready tasks (100,000 cases stored): median {list_ms:.2f} ms")
    finally:
        server.terminate()
        server.wait(timeout=10)

    bare = bare_engine(max(20, args.cases // 10))
    bare_ms = statistics.median(bare) * 1000
    ratio = median_ms / bare_ms
    log(f"bare SpiffWorkflow, same route in-process: median {bare_ms:.3f} ms per completion")
    log(f"RESULT median_ms={median_ms:.2f} p95_ms={p95_ms:.2f} per_s={per_s:.0f} "
        f"bytes_per_case={bytes_per_case:.0f} list_ms={list_ms:.2f} ratio_vs_engine={ratio:.1f}")


if __name__ == "__main__":
    main()
