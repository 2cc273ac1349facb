"""Benchmark: 10,000 due timers fired by two `meldcode worker` processes.

    .venv/bin/python bench/timer_bench.py [--cases 10000] [--workers 2] [--database-url URL]

Setup (not timed): a version of the shipped meldcode with a one-minute timer between the start
and stap 1 is deployed, and `--cases` cases are started with the engine's clock put an hour
back, so every case waits at a timer that is due. Timed: `--workers` real `meldcode worker`
processes start and fire them, until no timer waits (their start-up included). Then the
exactly-once check: one `timer_fired` event per case and stap 1 ready in each. The ratio base is
bare SpiffWorkflow doing the same timer work in-process: as many workflows of the same diagram
(its own parser and script engine, no storage) waiting at the timer, each refreshed so the timer
fires and run on to stap 1. Default database: SQLite in a temporary folder. The last line is
`RESULT ...`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    print(msg, flush=True)


def waiting_bpmn(duration: str = "PT1M") -> bytes:
    """The shipped meldcode.bpmn with a timer of `duration` (ISO 8601, or an expression)
    between the start and stap 1 (element wacht_start): every case waits there after its
    start. Used by this bench and the planner's tests."""
    from lxml import etree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    b = "{" + ns["bpmn"] + "}"
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    [flow] = root.xpath("//bpmn:sequenceFlow[@sourceRef='start_signalen']", namespaces=ns)
    target = flow.get("targetRef")
    flow.set("targetRef", "wacht_start")
    [process] = root.xpath("//bpmn:process[@id='meldcode']", namespaces=ns)
    event = etree.Element(b + "intermediateCatchEvent", id="wacht_start", name="Even wachten")
    definition = etree.SubElement(event, b + "timerEventDefinition", id="wacht_start_def")
    etree.SubElement(definition, b + "timeDuration").text = duration
    process.xpath("bpmn:sequenceFlow", namespaces=ns)[-1].addnext(event)
    event.addnext(etree.Element(b + "sequenceFlow", id="sf_wacht_start",
                                sourceRef="wacht_start", targetRef=target))
    [lane] = root.xpath("//bpmn:lane[@id='lane_medewerker']", namespaces=ns)
    etree.SubElement(lane, b + "flowNodeRef").text = "wacht_start"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def setup(url: str, cases_wanted: int) -> None:
    os.environ["MELDCODE_DATABASE_URL"] = url
    from engine import audit, cases, clock, definitions, models, schema, store, tokens, users
    from engine.definitions import SourceFile

    schema.upgrade(url)
    files = [SourceFile("meldcode.bpmn", waiting_bpmn()),
             SourceFile("afwegingskader.dmn",
                        (ROOT / "processes" / "afwegingskader.dmn").read_bytes())]
    # Stored as a deploy stores it, without the proof of every route (not what is measured).
    definitions.cached(definitions.set_sha256(files), lambda: files)
    with store.unit_of_work(write=True) as session:
        row = models.ProcessVersion(version=1, sha256=definitions.set_sha256(files),
                                    deployed_by="bench", active=True)
        row.files = [models.ProcessFile(name=f.name, kind=f.kind, sha256=f.sha256,
                                        content=f.content) for f in files]
        session.add(row)
        # its deploy line, as a deploy writes it: a version without one is never loaded
        audit.log_admin(session, "bench", "process_deployed",
                        {"version": 1, "sha256": row.sha256, "files": [f.name for f in files]})
        user = users.create_user(session, "mw", ["medewerker"], "bench-wachtwoord-lang-genoeg", None)
        tokens.create_token(session, "mw")
        who = users.Principal.of(user, "127.0.0.1")
    started = time.perf_counter()
    with clock.use(clock.now() - timedelta(hours=1)):
        for n in range(cases_wanted):
            cases.start_case(who, {"client_ref": f"T-{n}", "reason": "bench"})
            if n and n % 1000 == 0:
                log(f"  {n} cases ({time.perf_counter() - started:.0f} s)")
    store.dispose_engines()


def counts(url: str) -> tuple[int, dict[int, int], int]:
    from sqlalchemy import func, select

    from engine import models, store

    waiting = waiting_timers(url)
    with store.unit_of_work(url=url) as session:
        fired = dict(session.execute(
            select(models.HistoryEvent.case_id, func.count())
            .where(models.HistoryEvent.action == "timer_fired")
            .group_by(models.HistoryEvent.case_id)).all())
        stap1 = session.scalar(select(func.count()).select_from(models.TaskRecord).where(
            models.TaskRecord.state == "ready", models.TaskRecord.step == "stap1_signalen")) or 0
    return waiting, fired, stap1


def waiting_timers(url: str) -> int:
    from sqlalchemy import func, select

    from engine import models, store

    with store.unit_of_work(url=url) as session:
        return session.scalar(select(func.count()).select_from(models.Timer)) or 0


def fire_with_workers(url: str, workers: int) -> float:
    env = dict(os.environ, MELDCODE_DATABASE_URL=url)
    meldcode = str(ROOT / ".venv" / "bin" / "meldcode")
    started = time.perf_counter()
    procs = [subprocess.Popen([meldcode, "worker", "--interval", "0.5"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        while waiting_timers(url):  # the one cheap count: the others would take CPU from the workers
            time.sleep(0.2)
        return time.perf_counter() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


def bare_seconds(n: int) -> float:
    """Bare SpiffWorkflow: n workflows waiting at the same timer (its own wall-clock timer,
    due at once: PT0S), each refreshed so it fires, and run on to stap 1."""
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    from bench.bare import spec_and_engine

    spec, engine = spec_and_engine(waiting_bpmn("'PT0S'"))
    workflows = []
    for _ in range(n):
        wf = BpmnWorkflow(spec, script_engine=engine)
        wf.do_engine_steps()
        workflows.append(wf)
    time.sleep(0.01)
    started = time.perf_counter()
    for wf in workflows:
        wf.refresh_timers()
        wf.do_engine_steps()
    seconds = time.perf_counter() - started
    assert all(wf.get_tasks(state=TaskState.READY, manual=True) for wf in workflows)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="meldcode-timer-bench-")
    os.environ.setdefault("MELDCODE_INSTANCE", os.path.join(folder, "instance"))
    url = args.database_url or f"sqlite:///{folder}/bench.sqlite"
    log(f"setup: {args.cases} cases waiting at a due timer ({url.split(':')[0]})")
    setup(url, args.cases)
    log(f"firing with {args.workers} worker processes")
    seconds = fire_with_workers(url, args.workers)
    waiting, fired, stap1 = counts(url)
    once = waiting == 0 and len(fired) == args.cases and set(fired.values()) == {1} \
        and stap1 == args.cases
    log(f"  {seconds:.1f} s, {seconds / args.cases * 1000:.2f} ms per timer, exactly once: {once}")
    bare = bare_seconds(args.cases)
    log(f"bare SpiffWorkflow, same timer work in-process: {bare:.1f} s")
    log(f"RESULT timers={args.cases} workers={args.workers} db={url.split(':')[0]} "
        f"seconds={seconds:.1f} per_timer_ms={seconds / args.cases * 1000:.2f} "
        f"exactly_once={once} bare_s={bare:.2f} ratio={seconds / bare:.1f} target_s=60 "
        f"within_target={seconds <= 60}")


if __name__ == "__main__":
    main()
