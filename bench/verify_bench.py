"""Benchmark: verify 10,000 cases, replay one case of 1,000 events, check a checkpoint.

    .venv/bin/python bench/verify_bench.py [--cases 10000] [--events 1000] [--log-cases 100000]
                                           [--jobs N] [--keep-built FILE | --built FILE]
                                           [--only verify|starts|replay|checkpoint ...]

Verification checks each case's hash chains, replays its history from its process version
and compares with everything stored. The ratio base is bare SpiffWorkflow running the very
same completions in-process (its own parser and script engine, no storage, one process).
verify of all cases is what `meldcode verify --all --jobs N` runs: the pass over the log
across all cases, then each case in a read transaction of its own, in N processes (default:
the cores); the bench prints the wall-clock ratio and the CPU ratio (all processes' CPU time
against the bare engine's). Then a real server (`meldcode serve`) starts a case every 50 ms
while `meldcode verify --all` runs beside it: median and p95 of those starts. The
checkpoint part fills the log with generated entries (as many per case as a built case has)
and times checking a signed checkpoint over them: signature, every entry
against its row, the tree's root. The last line is `RESULT ...`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench import bare  # noqa: E402
from tests.scenarios.paths import SCENARIOS, fill, same_steps  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def decisions_of(index: int) -> dict:
    """The decisions of case `index` (build order): its scenario's. Every date, the evaluation
    date of hulp_organiseren too, is filled by tests/scenarios/paths.fill with today, the one
    day every date field takes (not_after and not_before "today"): so the timer before
    hulp_evalueren (wacht_evaluatiedatum) fires as soon as it is reached, in the same
    completion, as the product does for a date of today or earlier (CONTRACT section 5); bare
    SpiffWorkflow fires it in the same advance (bench/bare.py reads the date as the product
    does, from 00:00 Dutch time)."""
    return dict(SCENARIOS[index % len(SCENARIOS)].decisions)


def looping_bpmn() -> bytes:
    """The shipped meldcode, with 'help effective' looping back to organising help (its end
    event, then unreachable, removed), so one case can collect as many events as we like:
    hulp_organiseren, the evaluation-date timer, hulp_evalueren, again. (Looping 'help not
    effective' instead breaks rule 7, a melding must follow, and the proof refuses it.)"""
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    flow = root.xpath("//bpmn:sequenceFlow[@sourceRef='gw_hulp_effectief']"
                      "[normalize-space(bpmn:conditionExpression) = 'hulp_effectief == True']",
                      namespaces=ns)[0]
    end = flow.get("targetRef")
    flow.set("targetRef", "hulp_organiseren")
    for node in root.xpath(f"//bpmn:endEvent[@id='{end}'] | //*[@bpmnElement='{end}']"
                           f" | //bpmn:flowNodeRef[normalize-space() = '{end}']",
                           namespaces=ns):
        node.getparent().remove(node)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def scenario_orders() -> list[list[str]]:
    """Per scenario, the steps in the order the product completed them: the completed_steps
    of the first case built for it (case i walked SCENARIOS[i % len]); bare SpiffWorkflow
    completes the same steps in the same order."""
    from engine import models, store

    with store.unit_of_work() as session:
        rows = list(session.scalars(select(models.Case).order_by(models.Case.id)
                                    .limit(len(SCENARIOS))))
        return [list(row.completed_steps) for row in rows]


def bare_replay_all(cases: int, orders: list[list[str]]) -> float:
    spec, engine = bare.spec_and_engine()
    forms = bare.shipped_forms()
    t0 = time.perf_counter()
    for i in range(cases):
        bare.run_case(spec, engine, decisions_of(i), forms, order=orders[i % len(SCENARIOS)])
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--log-cases", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="verify processes (meldcode verify --jobs; default: the cores)")
    parser.add_argument("--keep-built", type=Path, metavar="FILE",
                        help="after building the cases, save a copy of the database in FILE")
    parser.add_argument("--built", type=Path, metavar="FILE",
                        help="start from a database saved with --keep-built (same --cases) "
                             "instead of building the cases again (about 12 minutes)")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS, metavar="PART",
                        help="measure only these parts (default all): verify (the cases, with "
                             "the bare engine), starts (case starts during verify --all), "
                             "replay (one long case), checkpoint")
    args = parser.parse_args()
    parts = set(args.only)
    results: dict[str, str] = {"verify_cases": str(args.cases), "jobs": str(args.jobs)}
    tmp = Path(tempfile.mkdtemp(prefix="meldcode-verify-"))
    os.environ.update(MELDCODE_INSTANCE=str(tmp),
                      MELDCODE_HISTORY_KEY="bench-0123456789abcdef0123456789abcdef",
                      MELDCODE_SECRET_KEY="bench-0123456789abcdef0123456789abcdef",
                      MELDCODE_ARGON2_PROFILE="fast",
                      MELDCODE_DATABASE_URL=f"sqlite:///{tmp / 'verify.sqlite'}")

    from engine import cases, definitions, models, replay, schema, store, tasks, users, verification, versions

    if args.built:
        copy_database(args.built, tmp / "verify.sqlite")
    schema.upgrade()
    with store.unit_of_work(write=True) as session:
        if args.built:
            who = users.Principal.of(session.scalars(select(models.User)
                                                     .where(models.User.name == "mw")).one())
            lead_user = session.scalars(select(models.User)
                                        .where(models.User.name == "lg")).one_or_none()
        else:
            versions.ensure_deployed(session, by="bench")
            lead_user = users.create_user(session, "lg", ["leidinggevende"],
                                          "bench-wachtwoord-lang-genoeg")
            who = users.Principal.of(users.create_user(session, "mw", ["medewerker"],
                                                       "bench-wachtwoord-lang-genoeg", "lg"))
        # mw's leidinggevende completes the Leidinggevende lane's tasks (besluit_afstemmen,
        # CONTRACT section 5); mw the Medewerker lane's
        assert lead_user is not None, "the saved database has no leidinggevende 'lg'"
        actors = {"medewerker": who, "leidinggevende": users.Principal.of(lead_user)}

    # 1. verify N cases along all routes (built through the engine, as users would). Every
    # field of each step: fill answers those on this case's form (a later case of another
    # route may be asked other ones than the first: shown_when), as the engine requires.
    forms: dict = {}
    step_fields = bare.shipped_forms()

    def walk(index, ref):
        scenario = SCENARIOS[index % len(SCENARIOS)]
        decisions = decisions_of(index)
        case = cases.start_case(who, {"client_ref": ref})
        while case["tasks"]:
            task = scenario.pick(case["tasks"])
            actor = actors[task["lane"]]
            case = tasks.complete_task(actor, task["id"], fill(step_fields[task["step"]], decisions))
        # every case closes on its route: a timer still waiting would leave it open, taskless
        assert case["status"] == "closed" and case["uitkomst"] == scenario.uitkomst \
            and same_steps(case["completed_steps"], scenario.steps), \
            (scenario.name, case["status"], case["completed_steps"])
        return case

    t0 = time.perf_counter()
    for i in range(0 if args.built else args.cases):
        walk(i, f"v-{i}")
        if (i + 1) % 1000 == 0:
            log(f"  built {i + 1}/{args.cases} cases ({time.perf_counter() - t0:.0f} s)")
    from engine import translog

    translog.sequence()
    if args.keep_built:
        copy_database(tmp / "verify.sqlite", args.keep_built)
        log(f"  saved the built database in {args.keep_built}")
    with store.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(models.Case)) == args.cases, \
            "the saved database holds another number of cases than --cases"
    if "verify" in parts:
        tree_size = measure_verify(args.cases, args.jobs, results)
    else:
        with store.unit_of_work() as session:
            tree_size = session.scalar(select(func.count()).select_from(translog.ENTRIES))
    if "starts" in parts:
        start_p50, start_p95, _ = starts_during_verify(args.jobs)
        results.update(case_start_p50_ms=f"{start_p50:.1f}",
                       case_start_p95_during_verify_ms=f"{start_p95:.1f}")

    # 2. one case with ~1,000 events on a looping variant of the meldcode (when the proof
    # still lets that variant through: --events 0 skips parts 2 and 3)
    n_events = replay_s = bare_s = ratio = 0.0
    completions = []
    looping_version = None
    if args.events > 0 and "replay" in parts:
        try:
            with store.unit_of_work(write=True) as session:
                row, _ = versions.deploy(
                    session, [definitions.SourceFile("meldcode.bpmn", looping_bpmn())], "bench")
                looping_version = row.version
        except definitions.InvalidDefinition as exc:
            log(f"parts 2 and 3 skipped: the proof refuses the looping variant "
                f"({str(exc).splitlines()[0]})")
    if looping_version is not None:
        scenario = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")
        decisions = dict(scenario.decisions)
        case = cases.start_case(who, {"client_ref": "lang"})
        completions = []  # (step, data) as the bare engine will replay them
        events = 1
        while events < args.events:
            assert case["tasks"], (case["status"], len(case["completed_steps"]))
            task = case["tasks"][0]
            actor = actors[task["lane"]]
            if task["step"] not in forms:
                forms[task["step"]] = tasks.get_task(actor, task["id"])["form"]["fields"]
            data = fill(forms[task["step"]], decisions)
            case = tasks.complete_task(actor, task["id"], data)
            completions.append((task["step"], data))
            done = case["completed_steps"]
            # + start + decision + the timer fired after each hulp_organiseren
            events = len(done) + 1 + 1 + done.count("hulp_organiseren")
        assert case["process_version"] == looping_version
        with store.unit_of_work() as session:
            stored = session.get(models.Case, case["id"])
            n_events = stored.event_count
            t0 = time.perf_counter()
            verdict = verification.verify_case(session, stored)
            verify_one_s = time.perf_counter() - t0
            evts = list(session.scalars(select(models.HistoryEvent)
                                        .where(models.HistoryEvent.case_id == case["id"])
                                        .order_by(models.HistoryEvent.seq)))
            definition = versions.definition_for(session, looping_version)
            timings = []
            for _ in range(3):  # median of three, as for the bare engine below
                t0 = time.perf_counter()
                replay.replay_events(definition, case["id"], evts)
                timings.append(time.perf_counter() - t0)
            replay_s = statistics.median(timings)
        assert verdict.ok, verdict.problems
        log(f"one case, {n_events} events: replay {replay_s * 1000:.0f} ms (median of 3), full verify "
            f"(chains + replay + compare) {verify_one_s * 1000:.0f} ms")

        # 3. bare SpiffWorkflow doing the same completions
        spec, engine = bare.spec_and_engine(looping_bpmn())
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            bare.run_completions(spec, engine, completions)
            timings.append(time.perf_counter() - t0)
        bare_s = statistics.median(timings)
        ratio = replay_s / bare_s
        log(f"bare SpiffWorkflow, same {len(completions)} completions: {bare_s * 1000:.0f} ms")
        results.update(replay_events=str(n_events), replay_ms=f"{replay_s * 1000:.0f}",
                       bare_ms=f"{bare_s * 1000:.0f}", ratio_vs_engine=f"{ratio:.2f}")
    if "checkpoint" in parts:
        # as many generated entries per case as a built case has in the log (its events and
        # access-log lines; the users and the deploy are counted in too, a handful)
        per_case = max(1, round(tree_size / args.cases))
        checkpoint_s, entries = checkpoint_check(args.log_cases, per_case)
        log(f"check a checkpoint over {entries} entries ({args.log_cases} cases, {per_case} "
            f"entries per case as built): {checkpoint_s:.1f} s")
        results.update(checkpoint_entries=str(entries), checkpoint_check_s=f"{checkpoint_s:.1f}")
    log("RESULT " + " ".join(f"{name}={value}" for name, value in results.items()))


PARTS = ["verify", "starts", "replay", "checkpoint"]


def measure_verify(cases: int, jobs: int, results: dict[str, str]) -> int:
    """Part 1: verify all cases as `meldcode verify --all --jobs N` does (the log pass, then
    the cases), the bare engine running the same completions, and both taking turns in one
    process. Puts its figures in `results`; returns the log's tree size."""
    from engine import log_verify, verification

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    report = log_verify.verify_log()
    log_s = time.perf_counter() - t0
    verdicts = list(verification.verify_all(log=report, jobs=jobs))
    verify_s = time.perf_counter() - t0
    verify_cpu = cpu_seconds() - cpu0
    assert report.ok and len(verdicts) == cases and all(v.ok for v in verdicts), (
        report.problems, [v.problems for v in verdicts if not v.ok][:3])
    log(f"  of which the log pass over {report.tree_size} entries: {log_s:.2f} s")
    log(f"verify {cases} cases with {jobs} process(es): {verify_s:.1f} s "
        f"({verify_s / cases * 1000:.2f} ms per case), {verify_cpu:.1f} s of CPU")
    orders = scenario_orders()
    # bare SpiffWorkflow does the same completions in the same order, and closes (checked once
    # per route, outside the timings)
    check_spec, check_engine = bare.spec_and_engine()
    for i, order in enumerate(orders):
        bare.run_case(check_spec, check_engine, decisions_of(i), bare.shipped_forms(), order=order)
    cpu0 = cpu_seconds()
    bare_all_s = bare_replay_all(cases, orders)
    bare_cpu = cpu_seconds() - cpu0
    log(f"bare SpiffWorkflow running the same {cases} cases' completions: {bare_all_s:.1f} s "
        f"({bare_cpu:.1f} s of CPU, one process)")
    inter_verify, inter_bare = interleaved_cpu(cases, orders)
    log(f"one process, verify and bare engine taking turns per {INTERLEAVE} cases (so both see the "
        f"same machine: this host's speed drifts by tens of percent within minutes): verify "
        f"{inter_verify:.1f} s, bare {inter_bare:.1f} s of CPU, ratio {inter_verify / inter_bare:.2f}")

    results.update(verify_s=f"{verify_s:.1f}", verify_ms_per_case=f"{verify_s / cases * 1000:.2f}",
                   verify_ratio_vs_engine=f"{verify_s / bare_all_s:.2f}",
                   verify_cpu_ratio_vs_engine=f"{verify_cpu / bare_cpu:.2f}",
                   verify_cpu_ratio_interleaved=f"{inter_verify / inter_bare:.2f}")
    return report.tree_size


INTERLEAVE = 100


def interleaved_cpu(cases: int, orders: list[list[str]]) -> tuple[float, float]:
    """CPU seconds of verifying the cases one process (jobs=1) and of the bare engine running
    the same cases' completions (in `orders`, per scenario), in turns of INTERLEAVE cases
    each, so that both are measured on the same machine state. Case i (in build order) walked
    SCENARIOS[i % len]."""
    from engine import models, store, verification

    with store.unit_of_work() as session:
        ids = list(session.scalars(select(models.Case.id).order_by(models.Case.id).limit(cases)))
    spec, engine = bare.spec_and_engine()
    forms = bare.shipped_forms()
    verify_cpu = bare_cpu = 0.0
    for start in range(0, len(ids), INTERLEAVE):
        t0 = time.process_time()
        verdicts = list(verification.verify_all(case_ids=ids[start:start + INTERLEAVE]))
        verify_cpu += time.process_time() - t0
        assert all(v.ok for v in verdicts), [v.problems for v in verdicts if not v.ok][:2]
        t0 = time.process_time()
        for i in range(start, min(len(ids), start + INTERLEAVE)):
            bare.run_case(spec, engine, decisions_of(i), forms, order=orders[i % len(SCENARIOS)])
        bare_cpu += time.process_time() - t0
    return verify_cpu, bare_cpu


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database file (the online backup API)."""
    import sqlite3

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the verify processes)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def starts_during_verify(jobs: int) -> tuple[float, float, float]:
    """Start cases through a real server (`meldcode serve`, HTTP) while `meldcode verify
    --all --jobs N` runs beside it on the same database, one start every 50 ms: returns the
    median and p95 latency of those starts (ms) and how long the verify took (s)."""
    import subprocess
    import threading

    from bench.api_bench import Api, percentile, start_server
    from engine import store, tokens, users

    with store.unit_of_work(write=True) as session:
        users.create_user(session, "bench-start", ["medewerker"], "bench-wachtwoord-lang-genoeg")
        token = tokens.create_token(session, "bench-start")
    port = 19000 + os.getpid() % 1000
    server = start_server(os.environ["MELDCODE_DATABASE_URL"], port, dict(os.environ))
    latencies: list[float] = []
    try:
        api = Api(f"http://127.0.0.1:{port}", token)
        for i in range(20):  # warm the workers
            api.call("POST", "/api/v1/cases", {"client_ref": f"warm-{i}"})
        done = threading.Event()

        def starter() -> None:
            n = 0
            while not done.is_set():
                t0 = time.perf_counter()
                api.call("POST", "/api/v1/cases", {"client_ref": f"during-{n}"})
                latencies.append(time.perf_counter() - t0)
                n += 1
                done.wait(0.05)

        thread = threading.Thread(target=starter)
        t0 = time.perf_counter()
        thread.start()
        result = subprocess.run([str(ROOT / ".venv" / "bin" / "meldcode"), "verify", "--all",
                                 "--jobs", str(jobs)], capture_output=True, text=True)
        verify_s = time.perf_counter() - t0
        done.set()
        thread.join()
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    finally:
        server.terminate()
        server.wait()
    p50 = statistics.median(latencies) * 1000
    p95 = percentile(latencies, 0.95) * 1000
    log(f"case starts through the server during `meldcode verify --all --jobs {jobs}` "
        f"({verify_s:.0f} s, {len(latencies)} starts): median {p50:.1f} ms, p95 {p95:.1f} ms")
    return p50, p95, verify_s


def checkpoint_check(cases: int, per_case: int) -> tuple[float, int]:
    """Fill the log of the bench database with generated access-log lines, spread over its
    real cases (so the log names only cases that exist; their chains are not made, which the
    pass over the log does not read: verify per case does), sequence them, sign a
    checkpoint, and time checking it: signature, the whole log against its rows, the root at
    the checkpoint's size, the access lines of no case along their chain."""
    import hashlib

    from sqlalchemy import insert, select

    from engine import checkpoints, log_verify, models, store, translog

    total = cases * per_case
    now = models.utcnow()
    t0 = time.perf_counter()
    with store.unit_of_work(write=True) as session:
        case_ids = list(session.scalars(select(models.Case.id).order_by(models.Case.id)))
        for start in range(0, total, 50_000):
            session.execute(insert(models.AccessLogEntry), [
                {"at": now, "case_id": case_ids[i % len(case_ids)], "client_ref": None,
                 "user": "bench",
                 "role": "systeem", "on_behalf_of": "bench", "action": "read", "outcome": "ok",
                 "source": None, "prev_hash": "0" * 64,
                 "hash": hashlib.sha256(str(i).encode()).hexdigest()}
                for i in range(start, min(total, start + 50_000))])
    translog.sequence()
    log(f"  generated and sequenced {total} entries ({time.perf_counter() - t0:.0f} s)")
    path = checkpoints.write_checkpoint(Path(tempfile.mkdtemp()) / "checkpoint.json")
    t0 = time.perf_counter()
    checkpoint = checkpoints.load_checkpoint(path)
    report = log_verify.verify_log(checkpoint=checkpoint)
    elapsed = time.perf_counter() - t0
    assert report.checkpoint_root == checkpoint["root"] and not report.problems, report.problems[:3]
    return elapsed, report.tree_size


if __name__ == "__main__":
    main()
