"""The search of the proof of every route (engine.proof): every state a version can reach.

`Explorer.run` drives the version with the real engine (engine.driving's start and
completion), breadth first, from the start over every ready task and every accepted answer set
of its form (`_answers`: the values of the routed fields, each set through forms.validate).
States that agree on the marking, on the live routed answers and on the rules' Monitor are
explored once; a task no rule or condition reads is taken alone (partial-order reduction, with
the cycle proviso). The rules on each step and state are engine.proof_rules'; the search stops
at MAX_STATES states or MAX_SECONDS seconds of CPU time, which is itself a problem of the
version.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import IntermediateCatchEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from . import expressions, forms
from .messages import N_, Message, text_of
from .proof_diagram import GROUP, Diagram, Findings
from .proof_rules import HULP_EVALUEREN, HULP_ORGANISEREN, MELDING_STEPS, STAP, Monitor, Rules, State

MAX_STATES = 20_000
MAX_SECONDS = 30.0
MAX_ANSWER_SETS = 512  # answer combinations tried for one task in one state
MULTI_ALL_SUBSETS = 3  # a multi field with at most this many options named: every subset

_STRUCTURAL_JOINS = (".EndJoin", ".BoundaryEventJoin")
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass
class Statistics:
    """The figures of a search, for the benchmark (bench/proof_bench.py)."""

    states: int = 0
    transitions: int = 0
    seconds: float = 0.0
    limited: bool = False  # stopped at MAX_STATES or MAX_SECONDS: a verdict not to keep


class Explorer:
    """One search over one version: `run` fills `findings` and gives the Statistics."""

    def __init__(self, definition, diagram: Diagram, findings: Findings, runtime):
        self.definition = definition
        self.diagram = diagram
        self.findings = findings
        self.runtime = runtime
        self.stats = Statistics()
        self.seen: set[tuple] = set()
        self._answers_cache: dict[tuple, list[dict[str, Any]]] = {}
        self.rules = Rules(definition, diagram, findings)
        self._cpu_started = 0.0  # thread_time() when run() began

    # -- the search --------------------------------------------------------------------------

    def run(self) -> Statistics:
        started = time.perf_counter()
        self._cpu_started = time.thread_time()
        queue: deque[State] = deque()
        # One start per kind of case (Diagram.starts: the owner's beroepsgroep), searched side
        # by side, breadth first: the shortest witness of a problem of any group is found.
        for data, hop in self.diagram.starts or [({}, None)]:
            started_case = self._start(dict(data), hop)
            if started_case is None:
                return self.stats
            root, advance = started_case
            if self.rules.after_advance(root, root.workflow, advance):
                queue.append(root)
        while queue:
            if self._over_budget(started, queue[0]):
                break
            state = queue.popleft()
            self.stats.states += 1
            moves: list[tuple[str, str, dict[str, Any] | None]] = []
            for task_id, step in state.ready:
                answer_sets = self._answers(step, state)
                if not answer_sets:  # the form refuses every answer: the route stops here
                    self.findings.add(step, "unanswerable", Message(N_(
                        "geen enkel antwoord op het formulier van {element} wordt aanvaard: de "
                        "route loopt daar vast"), element=self.findings.label(step)), state)
                moves += [(task_id, step, answers) for answers in answer_sets]
            # A waiting timer is a wait the scheduler ends: firing it is one more move (its
            # answers None), at its due time, so the route goes on past it.
            moves += [(task_id, step, None) for task_id, step, _due in state.timers]
            ample = self._ample(moves)
            if ample is not None:
                # A task no rule or condition reads commutes with every other ready task:
                # take it alone, unless that closes a cycle of states (then expand fully, so
                # no task is postponed for good: the cycle proviso of partial-order reduction).
                child = self._complete(state, *ample, state.workflow)
                state.workflow = None
                if child is not None:
                    queue.append(child)
                    continue
                if self.findings_stop:
                    break
            for number, (task_id, step, answers) in enumerate(moves):
                if ample is not None and (task_id, step, answers) == ample:
                    continue
                if number % 16 == 15 and self._over_budget(started, state):
                    break
                # The last move may take the state's own workflow: one restore saved.
                live = state.workflow if number == len(moves) - 1 else None
                child = self._complete(state, task_id, step, answers, live)
                if child is not None:
                    if len(queue) > 200:
                        child.workflow = None  # bounded memory: far states keep text only
                    queue.append(child)
            state.workflow = None
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def _start(self, data: dict[str, Any], hop: dict[str, Any] | None) -> tuple[State, Any] | None:
        """The root state of a case that starts with `data` (its hop: `hop`), the workflow run
        up to its first tasks, and that run's Advance; None when it cannot start (a problem
        found)."""
        runtime = self.runtime
        root = State(snapshot="", counter=0, data=data, monitor=Monitor(), hop=hop)
        ids = runtime.IdSource(0)
        try:
            workflow, advance = runtime.start_workflow(self.definition, ids)
        except runtime.EngineFailure as exc:
            self.findings.add(_failing_element(exc, None), "crash", Message(
                N_("de casus kan niet starten: {reason}"), reason=_first_line(exc)), root)
            return None
        root.snapshot = runtime.snapshot(workflow)
        root.workflow = workflow
        root.counter = ids.counter
        root.ready = [(str(t.id), t.task_spec.bpmn_id) for t in advance.ready]
        root.timers = [(w.task_id, w.step, w.due) for w in advance.timers]
        self.rules.absorb_decisions(root, advance)
        return root, advance

    findings_stop = False

    def _over_budget(self, started: float, state: State) -> bool:
        # The budget is this thread's CPU time, not the clock on the wall: how busy the machine
        # is (other requests, a test run beside it) must not decide whether a version passes.
        used = time.thread_time() - self._cpu_started
        if self.stats.states < MAX_STATES and used <= MAX_SECONDS:
            return False
        self.findings.add(None, "limit", Message(N_(
            "het bewijs van alle routes past niet binnen {states} toestanden of {seconds} "
            "seconden: vereenvoudig het diagram (minder parallelle taken of keuzes)"),
            states=MAX_STATES, seconds=int(MAX_SECONDS)), state)
        self.findings_stop = self.stats.limited = True
        return True

    def _ample(self, moves: list) -> tuple[str, str, dict[str, Any] | None] | None:
        """One move of a neutral task: a step of no meldcode rule whose form sets no variable
        that a condition, table or rule reads, with one answer set."""
        steps = {step for _task, step, _answers in moves}
        if len(steps) < 2:
            return None
        for task_id, step, answers in moves:
            # An intermediate timer (no cycle) only lets its own token on, as a neutral task.
            if answers is None and step in self._plain_timers:
                return task_id, step, answers
        for task_id, step, answers in moves:
            if answers is None:  # a boundary or cycle timer's fire
                continue
            if step in STAP or step in MELDING_STEPS or step in (HULP_ORGANISEREN,
                                                                  HULP_EVALUEREN):
                continue
            fields = self.definition.steps[step].fields
            if any(f.name in self.diagram.routed for f in fields):
                continue
            if sum(1 for m in moves if m[0] == task_id) == 1:
                return task_id, step, answers
        return None

    @property
    def _plain_timers(self) -> frozenset[str]:
        found = getattr(self, "_plain_timers_found", None)
        if found is None:
            found = self._plain_timers_found = frozenset(
                spec.bpmn_id for spec in self.definition.spec.task_specs.values()
                if isinstance(spec, IntermediateCatchEvent)
                and isinstance(spec.event_definition, TimerEventDefinition)
                and not isinstance(spec.event_definition, CycleTimerEventDefinition))
        return found

    def _complete(self, state: State, task_id: str, step: str, answers: dict[str, Any] | None,
                  live=None):
        runtime = self.runtime
        self.stats.transitions += 1
        shown = dict(answers or {})  # every answer given, so the route can be replayed as written
        child = State(snapshot="", counter=state.counter, data={**state.data, **shown},
                      monitor=state.monitor, parent=state,
                      hop={"step": step, "data": shown})
        if answers is not None and not self.rules.before_step(state, child, step, answers):
            return None
        workflow = live if live is not None else runtime.restore(self.definition, state.snapshot)
        ids = runtime.IdSource(0, state.counter)
        try:
            if answers is None:  # the scheduler fires the timer at its due time
                due = next(d for t, _s, d in state.timers if t == task_id)
                _timer, advance = runtime.fire_timer(workflow, task_id, ids, due)
            else:
                advance = runtime.complete_in_workflow(workflow, task_id, answers, ids)
        except runtime.EngineFailure as exc:
            element = _failing_element(exc, step)
            self.findings.add(element, "crash", Message(
                N_("de route loopt vast op een fout bij {element}: {reason}"),
                element=self.findings.label(element), reason=_first_line(exc)), child)
            return None
        child.counter = ids.counter
        self.rules.absorb_decisions(child, advance)
        if not self.rules.after_advance(child, workflow, advance):
            return None
        key = self._key(workflow, child)
        if key in self.seen:
            return None
        self.seen.add(key)
        child.snapshot = runtime.snapshot(workflow)
        child.workflow = workflow
        child.ready = [(str(t.id), t.task_spec.bpmn_id) for t in advance.ready]
        child.timers = [(w.task_id, w.step, w.due) for w in advance.timers]
        return child

    def _key(self, workflow, state: State) -> tuple:
        active = workflow.get_tasks(state=_ACTIVE)
        # The joins SpiffWorkflow makes for the end of the process and of a boundary event wait
        # once a branch ended early (a cycle timer's): they change no route, so they do not
        # make a state new.
        marking = sorted((t.task_spec.name, int(t.state)) for t in active
                         if not t.task_spec.name.endswith(_STRUCTURAL_JOINS))
        live: set[str] = set()
        for t in active:
            live |= self.diagram.live.get(getattr(t.task_spec, "bpmn_id", None) or "", frozenset())
        values = sorted((k, repr(v)) for k, v in state.data.items() if k in live)
        # the case data a route started with (Diagram.starts) sets every form after it apart
        return tuple(marking), tuple(values), state.monitor, repr(state.data.get(GROUP))

    # -- answers -------------------------------------------------------------------------------

    def _answers(self, step: str, state: State) -> list[dict[str, Any]]:
        """Every accepted answer set of a step's form that differs in a routed variable.

        Values of routed fields are enumerated (booleans, enum options, and "left empty" for a
        field that is not always required); other fields get one valid value when required.
        Only the fields on the form of a case with the state's data are answered
        (forms.shown_fields: an answer to another one is refused, as at every door). Each
        candidate goes through forms.validate, so what the form refuses is no route.
        """
        every_field = self.definition.steps[step].fields
        fields = forms.shown_fields(every_field, state.data)
        context_reads = self.diagram.form_reads.get(step, set())
        context_key = tuple(sorted((k, repr(v)) for k, v in state.data.items()
                                   if k in context_reads))
        # shown_when reads no routed answer (proof_diagram): the fields it leaves on the form
        # are part of the key instead, so a state never gets another form's answers
        cache_key = (step, context_key, tuple(f.name for f in fields))
        cached = self._answers_cache.get(cache_key)
        if cached is not None:
            return cached
        domains = []
        routed_fields = [f for f in fields if f.name in self.diagram.routed]
        for f in routed_fields:
            # a decision table's reads are not conditions: its field's subsets stay apart
            alike = () if f.name in self.diagram.table_reads \
                else self.diagram.conditions.get(f.name, ())
            values: list[Any] = _domain(f, self.diagram.constants.get(f.name, set()), alike)
            if not f.required:
                values = [*values, None]
            domains.append(values)
        accepted: list[dict[str, Any]] = []
        seen: set[tuple] = set()
        for number, combo in enumerate(itertools.product(*domains)):
            if number >= MAX_ANSWER_SETS:
                break
            candidate = {f.name: v for f, v in zip(routed_fields, combo, strict=True)
                         if v is not None}
            scope = forms.condition_scope(fields, state.data, candidate)
            if any(f.required_when and f.name in candidate and not f.required
                   and not forms.is_applicable(f, scope) for f in routed_fields):
                continue  # an answer to a question that does not apply: not a real route
            for _pass in range(2):  # a condition may read a field filled in the pass before
                for f in fields:
                    if f.name in self.diagram.routed or f.name in candidate:
                        continue
                    if f.required or (f.required_when and forms.is_applicable(f, scope)):
                        candidate[f.name] = _filler(f)
                scope = forms.condition_scope(fields, state.data, candidate)
            try:
                clean = forms.validate(every_field, candidate, context=state.data)
            except forms.FormInvalid:
                continue
            identity = tuple(sorted((k, repr(v)) for k, v in clean.items()
                                    if k in self.diagram.routed))
            if identity in seen:
                continue
            seen.add(identity)
            accepted.append(clean)
        self._answers_cache[cache_key] = accepted
        return accepted


def _failing_element(exc: Exception, fallback: str | None) -> str | None:
    """The element whose task raised the engine failure `exc`, else `fallback`."""
    cause = exc.__cause__
    task = getattr(cause, "task", None)
    spec = getattr(task, "task_spec", None)
    return getattr(spec, "bpmn_id", None) or fallback


def _domain(f: forms.Field, mentioned: set[str],
            conditions: Iterable[tuple[str, frozenset[str], bool]] = ()) -> list[Any]:
    """The values of a routed field that the search tries: both booleans, every enum option;
    for a multi field the subsets of the options a condition names (`mentioned`): all of them
    when at most MULTI_ALL_SUBSETS are named, else none, each alone and all together, so
    every condition is seen true and false; other fields one valid value.

    conditions (proof_diagram.Diagram.conditions of the field): of the subsets of a multi
    field, one per kind is kept: subsets alike for every condition (the same outcome of one
    that reads only this field, the same options of those another one names) take the same
    routes (`'a' in v or 'b' in v`: ['a'] and ['b'] alike), so the others add no route."""
    if f.type == "boolean":
        return [True, False]
    if f.type == "enum":
        return [o.value for o in f.options] or [None]
    if f.type == "multi":
        named = [o.value for o in f.options if o.value in mentioned]
        if len(named) <= MULTI_ALL_SUBSETS:
            subsets = [list(c) for size in range(len(named) + 1)
                       for c in itertools.combinations(named, size)]
        else:
            subsets = [[], *([n] for n in named), named]
        if not conditions:
            return subsets
        kinds: dict[tuple, list[str]] = {}
        for subset in subsets:
            kinds.setdefault(tuple(_kind_of(f.name, subset, c) for c in conditions), subset)
        return list(kinds.values())
    return [_filler(f)]


def _kind_of(name: str, value: list[str], condition: tuple[str, frozenset[str], bool]) -> Any:
    """What a condition sees of a multi field's `value`: its outcome when it reads only that
    field (None when it cannot be evaluated), else which of its text constants are chosen."""
    text, constants, alone = condition
    if alone:
        try:
            return expressions.evaluate(text, {name: value})
        except expressions.ExpressionError:
            return None
    return frozenset(constants & set(value))


def _filler(f: forms.Field) -> Any:
    """One valid value for a field whose value no route depends on."""
    if f.type == "boolean":
        return False
    if f.type == "enum":
        return f.options[0].value if f.options else None
    if f.type == "multi":
        return [f.options[0].value] if f.options else None
    if f.type == "date":  # today lies within both bounds (forms: not_after, not_before)
        return forms.today().isoformat()
    if f.type == "integer":
        return f.minimum if f.minimum is not None else 1
    return "(tekst)"


def _first_line(exc: Exception) -> str:
    """Why the engine failed: its message where that is one of ours (a Message on one line,
    as engine.driving.EngineFailure gives it), else the first line of its text."""
    message = text_of(exc)
    if isinstance(message, Message) and "\n" not in message.strip():
        return message
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
