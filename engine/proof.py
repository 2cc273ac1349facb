"""The proof of every route: a process version explored in memory before it is published.

`prove(definition)` drives the version with the real engine (engine.runtime's start and
completion), the real forms (engine.forms.validate) and the real decision tables, over every
value of every variable that a gateway condition, a decision table or a form condition reads,
and over every order in which ready tasks can be completed. States that agree on the tokens
(the marking), on the routed answers and on what the meldcode rules remember are explored once,
so orders of parallel tasks that do not affect each other fold together and loops end.

Two kinds of rule are checked on every route (DESIGN.md, "Proof before publish"):
- soundness of the workflow net (van der Aalst): no route stalls (open, no ready user task, no
  timer that the product fires), crashes or loops without a user task; every end carries an
  `uitkomst` that the route justifies; no user task is ready twice at once;
- the meldcode's own rules (CONTRACT sections 1 and 5): the contract steps in order, one
  melding per trigger, no close without a melding while `besluit_melden` is true or acute or
  structural unsafety was answered yes, a `geen_vermoeden` close only with the talk with the
  client recorded (or a reason why not), an exemption only with a non-blank reason, and an
  acute melding never waiting on anyone but the person making it.

Each problem is reported once per element and rule, at the element where the route goes wrong,
with the shortest witness route found (breadth first): the steps and the answers given.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.util.task import TaskState

from . import expressions, forms
from .problems import BPMN_NS, CAMUNDA_NS, NS, Problem

MAX_STATES = 20_000
MAX_SECONDS = 30.0
MAX_ANSWER_SETS = 512  # answer combinations tried for one task in one state

# CONTRACT section 1: the steps, and the variables the meldcode rules read.
STAP = ("stap1_signalen", "stap2_overleg", "stap3_gesprek", "stap4_wegen", "stap5_beslissen")
MELDING_DOEN = "melding_doen"
VOORBESPREKEN = "melding_voorbespreken"
HULP_ORGANISEREN = "hulp_organiseren"
HULP_EVALUEREN = "hulp_evalueren"
MELDING_STEPS = ("melding_voorbereiden", VOORBESPREKEN, MELDING_DOEN)
# The record of the talk about a "geen vermoeden" conclusion (stap 4): discussed, or why not.
TALK_RECORDED = "weging_besproken_client"
TALK_REASON = "weging_niet_besproken_reden"
MEDEWERKER = "medewerker"
# Variables the rules below read: always part of a state's identity.
RULE_VARIABLES = frozenset({
    "gesprek_uitzondering", "zorgen_weggenomen", "vermoeden", "acute_onveiligheid",
    "structurele_onveiligheid", "besluit_melden", "melding_uitzondering", "hulp_effectief",
    TALK_RECORDED, TALK_REASON,
})

# What the order rules (_order_problem) read when a step completes.
ORDER_READS = {
    "stap3_gesprek": ("gesprek_uitzondering",),
    "stap4_wegen": ("gesprek_uitzondering", "zorgen_weggenomen"),
    "stap5_beslissen": ("vermoeden",),
    HULP_ORGANISEREN: ("vermoeden",),
    **{step: ("vermoeden",) for step in MELDING_STEPS},
    MELDING_DOEN: ("vermoeden", "melding_uitzondering"),
}

_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class Monitor:
    """What the meldcode rules remember along a route (part of a state's identity)."""

    done: frozenset[str] = frozenset()  # contract steps completed at least once
    pending: int = 0  # meldingen owed: decided or triggered, melding_doen not yet completed
    meldingen: int = 0  # melding_doen completions, capped at 2 for the state identity
    voorbesproken: bool = False  # melding_voorbespreken done for the melding under way
    acute: bool = False  # acute_onveiligheid answered yes
    must_melden: bool = False  # besluit_melden, acute or structural unsafety: yes
    evidence: str = ""  # what justifies an uitkomst so far: "zw" or "gv" (see _closing_rules)
    talk: bool = False  # the talk about the conclusion recorded, or why not


@dataclass
class State:
    snapshot: str
    counter: int
    data: dict[str, Any]
    monitor: Monitor
    ready: list[tuple[str, str]] = field(default_factory=list)  # (task id, step) ready now
    workflow: Any = None  # the live workflow of this state, used up by its last transition
    parent: State | None = None
    hop: dict[str, Any] | None = None

    def path(self) -> tuple[dict[str, Any], ...]:
        hops = []
        node: State | None = self
        while node is not None and node.hop is not None:
            hops.append(node.hop)
            node = node.parent
        return tuple(reversed(hops))


@dataclass
class _Diagram:
    """What the proof reads from the BPMN beside the parsed spec: lines, labels, the graph."""

    file: str
    lines: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    lanes: dict[str, str] = field(default_factory=dict)  # user task id -> lane (role)
    flows: dict[str, list[str]] = field(default_factory=dict)  # node -> successors
    preds: dict[str, list[str]] = field(default_factory=dict)
    joins: set[str] = field(default_factory=set)  # converging parallel / inclusive gateways
    user_tasks: set[str] = field(default_factory=set)
    routed: set[str] = field(default_factory=set)  # variables a condition or table reads
    # variables a form condition (required_when, invalid_when) reads, per user task
    form_reads: dict[str, set[str]] = field(default_factory=dict)
    process_line: int = 1
    live: dict[str, frozenset[str]] = field(default_factory=dict)  # node -> variables read later


def _read_diagram(definition) -> _Diagram | None:
    source = next((f for f in definition.files if f.kind == "bpmn"), None)
    if source is None:
        return None
    root = etree.fromstring(source.content, etree.XMLParser(resolve_entities=False,
                                                            no_network=True, load_dtd=False))
    diagram = _Diagram(file=source.name)
    process = root.find(f"{{{BPMN_NS}}}process[@id='{definition.spec.name}']")
    if process is None:
        process = root.find(f"{{{BPMN_NS}}}process")
    diagram.process_line = process.sourceline or 1
    for node in process.iter():
        if not isinstance(node.tag, str) or not node.get("id"):
            continue
        diagram.lines[node.get("id")] = node.sourceline or 1
        name = " ".join((node.get("name") or "").split())
        diagram.labels[node.get("id")] = name or node.get("id")
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        role = (lane.get("name") or "").strip().lower()
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            diagram.lanes[(ref.text or "").strip()] = role
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        diagram.flows.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
        diagram.preds.setdefault(flow.get("targetRef"), []).append(flow.get("sourceRef"))
        for cond in flow.iter(f"{{{BPMN_NS}}}conditionExpression"):
            diagram.routed |= _names(cond.text)
    for gw in process.xpath(".//bpmn:parallelGateway | .//bpmn:inclusiveGateway", namespaces=NS):
        if len(diagram.preds.get(gw.get("id"), [])) > 1:
            diagram.joins.add(gw.get("id"))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        diagram.user_tasks.add(task.get("id"))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        reads = diagram.form_reads.setdefault(task.get("id"), set())
        for prop in task.iter(f"{{{CAMUNDA_NS}}}property"):
            if (prop.get("id") or "").endswith("_when"):
                reads |= _names(prop.get("value"))
    for dmn in (f for f in definition.files if f.kind == "dmn"):
        dmn_root = etree.fromstring(dmn.content, etree.XMLParser(resolve_entities=False,
                                                                 no_network=True, load_dtd=False))
        for node in dmn_root.iter():
            if isinstance(node.tag, str) and etree.QName(node).localname == "inputExpression":
                for text in node:
                    diagram.routed |= _names(text.text)
    # A form condition that reads an answer of another task makes that answer routed; one that
    # reads only its own form's answers is checked when the form is filled, then forgotten.
    diagram.routed |= RULE_VARIABLES
    reads: dict[str, set[str]] = {}
    for task_id, form_reads in diagram.form_reads.items():
        step = definition.steps.get(task_id)
        own = {f.name for f in step.fields} if step else set()
        diagram.routed |= form_reads - own
        reads[task_id] = (form_reads - own) | set(ORDER_READS.get(task_id, ()))
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for cond in flow.iter(f"{{{BPMN_NS}}}conditionExpression"):
            reads.setdefault(flow.get("sourceRef"), set()).update(_names(cond.text))
    dmn_inputs = diagram.routed - RULE_VARIABLES
    for brt in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        reads.setdefault(brt.get("id"), set()).update(dmn_inputs)
    diagram.live = _liveness(diagram, reads)
    return diagram


def _liveness(diagram: _Diagram, reads: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """Per flow node, the variables that node or any node after it may read (a fixpoint over
    the flow graph, loops included): answers outside it cannot change the rest of a route."""
    nodes = set(diagram.flows) | set(diagram.preds) | set(reads)
    live = {n: set(reads.get(n, ())) for n in nodes}
    changed = True
    while changed:
        changed = False
        for node in nodes:
            for succ in diagram.flows.get(node, ()):
                extra = live.get(succ, set()) - live[node]
                if extra:
                    live[node] |= extra
                    changed = True
    return {n: frozenset(v) for n, v in live.items()}


def _names(text: str | None) -> set[str]:
    try:
        return expressions.names_in(text or "") - set(expressions.CONSTANTS)
    except expressions.ExpressionError:
        return set()


class _Findings:
    """Problems found so far: one per (element, rule), the first (shortest) witness kept."""

    def __init__(self, diagram: _Diagram):
        self.diagram = diagram
        self.found: dict[tuple[str, str], Problem] = {}

    def add(self, element: str | None, rule: str, message: str, state: State,
            extra_hop: dict[str, Any] | None = None) -> None:
        key = (element or "", rule)
        if key in self.found:
            return
        path = state.path() + ((extra_hop,) if extra_hop else ())
        line = self.diagram.lines.get(element or "", self.diagram.process_line)
        self.found[key] = Problem(self.diagram.file, line, message, path)

    def label(self, element: str | None) -> str:
        return f"'{self.diagram.labels.get(element or '', element or '?')}'"


def prove(definition) -> list[Problem]:
    """Explore every route of a parsed, statically valid process version.

    In: an engine.definitions.ProcessDefinition. Out: the problems found, sorted by line, each
    with a witness route (Problem.path); empty when every route is sound and keeps the
    meldcode's rules. Never raises for a fault of the diagram: an engine error on a route is a
    problem of that route. Rules: CONTRACT sections 1 and 5, DESIGN.md "Proof before publish".
    """
    with _proved_lock:
        known = _proved.get(definition.sha256)
    if known is not None:
        return list(known)
    problems, _stats = explore(definition)
    with _proved_lock:
        _proved[definition.sha256] = tuple(problems)
        while len(_proved) > 64:
            _proved.pop(next(iter(_proved)))
    return problems


# Verdicts by file-set SHA-256: a set is proved once per process (every test database deploys
# the shipped set; a deploy of a checked set checks it again).
_proved: dict[str, tuple[Problem, ...]] = {}
_proved_lock = threading.Lock()


@dataclass
class Statistics:
    states: int = 0
    transitions: int = 0
    seconds: float = 0.0


class _Explorer:
    def __init__(self, definition, diagram: _Diagram, findings: _Findings, runtime):
        self.definition = definition
        self.diagram = diagram
        self.findings = findings
        self.runtime = runtime
        self.stats = Statistics()
        self.seen: set[tuple] = set()
        self._answers_cache: dict[tuple, list[dict[str, Any]]] = {}
        self._melding_reach = self._reaches(MELDING_DOEN)

    # -- the search --------------------------------------------------------------------------

    def run(self) -> Statistics:
        started = time.perf_counter()
        runtime = self.runtime
        root = State(snapshot="", counter=0, data={}, monitor=Monitor())
        ids = runtime.IdSource(0)
        try:
            workflow, advance = runtime.start_workflow(self.definition, ids)
        except runtime.EngineFailure as exc:
            self.findings.add(self._failing_element(exc, None), "crash",
                              f"de casus kan niet starten: {_first_line(exc)}", root)
            return self.stats
        root.snapshot = runtime.snapshot(workflow)
        root.workflow = workflow
        root.counter = ids.counter
        root.ready = [(str(t.id), t.task_spec.bpmn_id) for t in advance.ready]
        self._absorb_decisions(root, advance)
        queue: deque[State] = deque()
        if self._after_advance(root, workflow, advance):
            queue.append(root)
        while queue:
            if self._over_budget(started, queue[0]):
                break
            state = queue.popleft()
            self.stats.states += 1
            moves = [(task_id, step, answers) for task_id, step in state.ready
                     for answers in self._answers(step, state)]
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

    findings_stop = False

    def _over_budget(self, started: float, state: State) -> bool:
        if self.stats.states < MAX_STATES and time.perf_counter() - started <= MAX_SECONDS:
            return False
        self.findings.add(None, "limit", "het bewijs van alle routes past niet binnen "
                          f"{MAX_STATES} toestanden of {int(MAX_SECONDS)} seconden: "
                          "vereenvoudig het diagram (minder parallelle taken of keuzes)", state)
        self.findings_stop = True
        return True

    def _ample(self, moves: list) -> tuple | None:
        """One move of a neutral task: a step of no meldcode rule whose form sets no variable
        that a condition, table or rule reads, with one answer set."""
        steps = {step for _task, step, _answers in moves}
        if len(steps) < 2:
            return None
        for task_id, step, answers in moves:
            if step in STAP or step in MELDING_STEPS or step in (HULP_ORGANISEREN,
                                                                  HULP_EVALUEREN):
                continue
            fields = self.definition.steps[step].fields
            if any(f.name in self.diagram.routed for f in fields):
                continue
            if sum(1 for m in moves if m[0] == task_id) == 1:
                return task_id, step, answers
        return None

    def _complete(self, state: State, task_id: str, step: str, answers: dict[str, Any],
                  live=None):
        runtime = self.runtime
        self.stats.transitions += 1
        shown = dict(answers)  # every answer given, so the route can be replayed as written
        child = State(snapshot="", counter=state.counter, data={**state.data, **answers},
                      monitor=state.monitor, parent=state,
                      hop={"step": step, "data": shown})
        if not self._before_step(state, child, step, answers):
            return None
        workflow = live if live is not None else runtime.restore(self.definition, state.snapshot)
        ids = runtime.IdSource(0, state.counter)
        try:
            advance = runtime.complete_in_workflow(workflow, task_id, answers, ids)
        except runtime.EngineFailure as exc:
            element = self._failing_element(exc, step)
            self.findings.add(element, "crash",
                              f"de route loopt vast op een fout bij "
                              f"{self.findings.label(element)}: {_first_line(exc)}", child)
            return None
        child.counter = ids.counter
        self._absorb_decisions(child, advance)
        if not self._after_advance(child, workflow, advance):
            return None
        key = self._key(workflow, child)
        if key in self.seen:
            return None
        self.seen.add(key)
        child.snapshot = runtime.snapshot(workflow)
        child.workflow = workflow
        child.ready = [(str(t.id), t.task_spec.bpmn_id) for t in advance.ready]
        return child

    def _key(self, workflow, state: State) -> tuple:
        active = workflow.get_tasks(state=_ACTIVE)
        marking = sorted((t.task_spec.name, int(t.state)) for t in active)
        live: set[str] = set()
        for t in active:
            live |= self.diagram.live.get(getattr(t.task_spec, "bpmn_id", None) or "", frozenset())
        values = sorted((k, repr(v)) for k, v in state.data.items() if k in live)
        return tuple(marking), tuple(values), state.monitor

    # -- answers -------------------------------------------------------------------------------

    def _answers(self, step: str, state: State) -> list[dict[str, Any]]:
        """Every accepted answer set of a step's form that differs in a routed variable.

        Values of routed fields are enumerated (booleans, enum options, and "left empty" for a
        field that is not always required); other fields get one valid value when required.
        Each candidate goes through forms.validate, so what the form refuses is no route.
        """
        fields = self.definition.steps[step].fields
        context_reads = self.diagram.form_reads.get(step, set())
        context_key = tuple(sorted((k, repr(v)) for k, v in state.data.items()
                                   if k in context_reads))
        cache_key = (step, context_key)
        cached = self._answers_cache.get(cache_key)
        if cached is not None:
            return cached
        domains = []
        routed_fields = [f for f in fields if f.name in self.diagram.routed]
        for f in routed_fields:
            values: list[Any] = _domain(f)
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
            scope = {**state.data, **candidate}
            if any(f.required_when and f.name in candidate and not f.required
                   and not forms.is_applicable(f, scope) for f in routed_fields):
                continue  # an answer to a question that does not apply: not a real route
            for f in fields:
                if f.name in self.diagram.routed or f.name in candidate:
                    continue
                if f.required or (f.required_when and forms.is_applicable(f, scope)):
                    candidate[f.name] = _filler(f)
            try:
                clean = forms.validate(fields, candidate, context=state.data)
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

    # -- the rules -------------------------------------------------------------------------------

    def _before_step(self, state: State, child: State, step: str, answers: dict) -> bool:
        """Rules on the step being completed; updates the child's monitor. False: prune."""
        m = state.monitor
        data = child.data
        label = self.findings.label(step)
        order = self._order_problem(m, step, state.data)
        if order:
            self.findings.add(step, "order", f"{label} komt op deze route te vroeg of ten "
                              f"onrechte: {order}", state, child.hop)
        self._exemption_rule(state, child, step, answers)
        done = m.done | {step} if step in STAP or step in MELDING_STEPS or step in (
            HULP_ORGANISEREN, HULP_EVALUEREN) else m.done
        pending, meldingen, voorbesproken = m.pending, m.meldingen, m.voorbesproken
        if step == VOORBESPREKEN:
            voorbesproken = True
        if step == MELDING_DOEN:
            if data.get("melding_uitzondering") == "geen" and not voorbesproken:
                self.findings.add(step, "order", f"{label}: de melding wordt gedaan zonder dat "
                                  "zij eerst met de cliënt is besproken, terwijl er geen "
                                  "uitzondering is gekozen", state, child.hop)
            if pending == 0:
                self.findings.add(step, "extra_melding",
                                  f"{label} wordt vaker afgerond dan de antwoorden vragen: er "
                                  "loopt al een melding of er is geen reden voor een nieuwe",
                                  state, child.hop)
            pending = max(0, pending - 1)
            meldingen = min(2, meldingen + 1)
            voorbesproken = False
        if answers.get("hulp_effectief") is False and pending == 0:
            pending = 1  # rule 7: failed help asks for a melding, unless one is under way
        evidence = m.evidence
        if step == "stap3_gesprek" and answers.get("zorgen_weggenomen") is True:
            evidence = "zw"
        if step == "stap4_wegen" and answers.get("vermoeden") is False:
            evidence = "gv"
        talk = m.talk or answers.get(TALK_RECORDED) is True or bool(
            str(answers.get(TALK_REASON) or "").strip())
        child.monitor = Monitor(
            frozenset(done), pending, meldingen, voorbesproken,
            acute=m.acute or answers.get("acute_onveiligheid") is True,
            must_melden=m.must_melden or any(answers.get(n) is True for n in (
                "acute_onveiligheid", "structurele_onveiligheid")),
            evidence=evidence, talk=talk)
        return True

    def _order_problem(self, m: Monitor, step: str, data: dict) -> str | None:
        done = m.done
        if step in STAP and step in done:
            return "deze stap is al afgerond"
        needs = {
            "stap2_overleg": ["stap1_signalen"],
            "stap3_gesprek": ["stap2_overleg"],
            "stap4_wegen": ["stap2_overleg"],
            "stap5_beslissen": ["stap4_wegen"],
            HULP_ORGANISEREN: ["stap5_beslissen"],
            HULP_EVALUEREN: [HULP_ORGANISEREN],
        }.get(step, ["stap5_beslissen"] if step in MELDING_STEPS else [])
        missing = [s for s in needs if s not in done]
        if missing:
            return "eerst moet " + ", ".join(self.findings.label(s) for s in missing) + \
                " zijn afgerond"
        if step == "stap3_gesprek" and data.get("gesprek_uitzondering") not in (None, "geen"):
            return "er is een uitzondering op het gesprek gekozen"
        if step == "stap4_wegen" and data.get("zorgen_weggenomen") is True:
            return "de zorgen zijn in het gesprek weggenomen"
        if step == "stap4_wegen" and "stap3_gesprek" not in done and \
                data.get("gesprek_uitzondering") in (None, "geen"):
            return f"eerst moet {self.findings.label('stap3_gesprek')} zijn afgerond"
        if (step == "stap5_beslissen" or step in MELDING_STEPS or step == HULP_ORGANISEREN) \
                and data.get("vermoeden") is False:
            return "er is geen vermoeden vastgesteld"
        return None

    def _exemption_rule(self, state: State, child: State, step: str, answers: dict) -> None:
        """An exemption (an enum `*_uitzondering` other than `geen`) needs a non-blank reason."""
        fields = {f.name: f for f in self.definition.steps[step].fields}
        for name, value in answers.items():
            if not name.endswith("uitzondering") or value in (None, "geen"):
                continue
            reason = fields.get(f"{name}_reden")
            label = self.findings.label(step)
            if reason is None:
                self.findings.add(step, "exemption", f"{label}: de uitzondering '{value}' vraagt "
                                  f"geen reden (veld '{name}_reden' ontbreekt)", state, child.hop)
                continue
            for blank in ("   ", None):
                trial = {k: v for k, v in answers.items() if k != reason.name}
                if blank is not None:
                    trial[reason.name] = blank
                try:
                    forms.validate(list(fields.values()), trial, context=state.data)
                except forms.FormInvalid:
                    continue
                self.findings.add(step, "exemption", f"{label}: de uitzondering '{value}' "
                                  "wordt aanvaard zonder reden (leeg of alleen spaties)",
                                  state, {**(child.hop or {}),
                                          "data": {**(child.hop or {}).get("data", {}),
                                                   reason.name: blank or ""}})
                break

    def _absorb_decisions(self, state: State, advance) -> None:
        for _step, outputs in advance.decisions:
            state.data.update(outputs)
            if outputs.get("besluit_melden") is True:
                m = state.monitor
                state.monitor = dataclasses.replace(m, pending=m.pending + 1, must_melden=True)

    def _after_advance(self, state: State, workflow, advance) -> bool:
        """Rules on the state an advance reached. False: the route ends here."""
        ready = advance.ready
        steps = [t.task_spec.bpmn_id for t in ready]
        for step in sorted(set(steps)):
            if steps.count(step) > 1:
                self.findings.add(step, "twice", f"{self.findings.label(step)} staat op deze "
                                  "route twee keer tegelijk open", state)
        if advance.completed:
            self._closing_rules(state, workflow)
            return False
        if not ready and not self._waiting_timer(workflow):
            waiting = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.WAITING)
                       if getattr(t.task_spec, "bpmn_id", None)]
            element = waiting[0] if waiting else (state.hop or {}).get("step")
            where = ", ".join(self.findings.label(w) for w in waiting) or \
                self.findings.label(element)
            self.findings.add(element, "stall", f"de route loopt vast bij {where}: de casus "
                              "staat open zonder taak voor wie dan ook", state)
            return False
        self._acute_rule(state, steps)
        return True

    def _waiting_timer(self, workflow) -> bool:
        return any("Timer" in type(t.task_spec).__name__
                   for t in workflow.get_tasks(state=TaskState.WAITING))

    def _closing_rules(self, state: State, workflow) -> None:
        m = state.monitor
        end = self._end_event(workflow)
        label = self.findings.label(end)
        if not (MELDING_DOEN in m.done or HULP_ORGANISEREN in m.done or m.evidence):
            self.findings.add(end, "uitkomst", f"de route eindigt bij {label} zonder uitkomst "
                              "van de meldcode (geen melding, geen hulp, geen weggenomen zorgen "
                              "en geen vastgesteld 'geen vermoeden')", state)
            return
        if m.pending > 0:
            self.findings.add(end, "no_melding", f"de route sluit bij {label} zonder de "
                              "melding die de antwoorden vragen", state)
        elif MELDING_DOEN not in m.done and m.must_melden:
            self.findings.add(end, "no_melding", f"de route sluit bij {label} zonder melding "
                              "terwijl tot melden is besloten of onveiligheid is vastgesteld",
                              state)
        geen_vermoeden = m.evidence == "gv" and not (
            MELDING_DOEN in m.done or HULP_ORGANISEREN in m.done)
        if geen_vermoeden and not m.talk:
            self.findings.add(end, "talk", f"de route sluit bij {label} als 'geen "
                              "vermoeden' zonder dat het gesprek met de cliënt over die "
                              "conclusie is vastgelegd (of waarom het niet kon)", state)

    def _end_event(self, workflow) -> str | None:
        ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED)
                if isinstance(t.task_spec, EndEvent)]
        if not ends:
            return None
        return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id

    def _acute_rule(self, state: State, ready_steps: list[str]) -> None:
        """An acute melding never waits on a person other than the one making it."""
        if not state.monitor.acute or state.monitor.pending == 0:
            return
        if any(step in self._melding_reach for step in ready_steps):
            return
        blocker = self._blocker(ready_steps)
        self.findings.add(blocker, "acute_wait", "een acute melding wacht bij "
                          f"{self.findings.label(blocker)} op iemand anders dan wie meldt",
                          state)

    def _blocker(self, ready_steps: list[str]) -> str | None:
        """The element an acute melding waits at: a task of another lane, or a join that such a
        task feeds, on the way from the ready steps to melding_doen (the first ready step when
        melding_doen itself lies in another lane or out of reach)."""
        d = self.diagram
        before_melding = self._backward(MELDING_DOEN)
        after_ready: set[str] = set()
        todo = list(ready_steps)
        while todo:
            node = todo.pop()
            if node in after_ready:
                continue
            after_ready.add(node)
            todo.extend(d.flows.get(node, []))
        foreign = {t for t in d.user_tasks if d.lanes.get(t, MEDEWERKER) != MEDEWERKER}
        suspects = (foreign | {j for j in d.joins if self._backward(j) & foreign}) & \
            before_melding & after_ready
        if d.lanes.get(MELDING_DOEN, MEDEWERKER) != MEDEWERKER:
            return MELDING_DOEN
        if suspects:
            return min(suspects, key=lambda n: d.lines.get(n, 0))
        return ready_steps[0] if ready_steps else None

    def _reaches(self, target: str) -> set[str]:
        """User tasks of the medewerker from which `target` is reached through medewerker tasks
        only, and through no join that a task of another lane feeds."""
        d = self.diagram
        foreign = {t for t in d.user_tasks if d.lanes.get(t, MEDEWERKER) != MEDEWERKER}
        blocked_joins = {j for j in d.joins if self._backward(j) & foreign}
        if d.lanes.get(target, MEDEWERKER) != MEDEWERKER:
            return set()
        good: set[str] = set()
        todo = [target]
        while todo:
            node = todo.pop()
            if node in good:
                continue
            good.add(node)
            for pred in d.preds.get(node, []):
                if pred in foreign or pred in blocked_joins:
                    continue
                todo.append(pred)
        return good & d.user_tasks

    def _backward(self, node: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.diagram.preds.get(node, []))
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.diagram.preds.get(current, []))
        return seen

    def _failing_element(self, exc: Exception, fallback: str | None) -> str | None:
        cause = exc.__cause__
        task = getattr(cause, "task", None)
        spec = getattr(task, "task_spec", None)
        return getattr(spec, "bpmn_id", None) or fallback


def _domain(f: forms.Field) -> list[Any]:
    if f.type == "boolean":
        return [True, False]
    if f.type == "enum":
        return [o.value for o in f.options] or [None]
    return [_filler(f)]


def _filler(f: forms.Field) -> Any:
    """One valid value for a field whose value no route depends on."""
    if f.type == "boolean":
        return False
    if f.type == "enum":
        return f.options[0].value if f.options else None
    if f.type == "date":
        return "2026-01-15"
    if f.type == "integer":
        return f.minimum if f.minimum is not None else 1
    return "(tekst)"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explore(definition) -> tuple[list[Problem], Statistics]:
    """As `prove`, with the search's figures (states, transitions, seconds) for the benchmark."""
    from . import runtime

    diagram = _read_diagram(definition)
    if diagram is None:
        return [], Statistics()
    findings = _Findings(diagram)
    explorer = _Explorer(definition, diagram, findings, runtime)
    stats = explorer.run()
    return sorted(findings.found.values()), stats
