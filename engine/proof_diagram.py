"""What the proof of every route (engine.proof) reads from a version's BPMN beside the parsed
spec, and where it puts what it finds.

`read_diagram` gives the lines and labels of the elements (a problem is reported at its
element), the lanes, the flow graph, the variables a gateway condition, a decision table or a
form condition reads (`routed`: their values make different routes), and per flow node the
variables it or any node after it may read (`live`: answers outside it cannot change the rest
of a route, so states that differ only there are one). `Findings` keeps one problem per
element and rule, with the first (shortest) witness route.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from . import expressions, organisation
from .problems import BPMN_NS, CAMUNDA_NS, NS, Problem
from .proof_rules import EXPERT_NEEDED, ORDER_READS, RULE_VARIABLES, SECTION5_VARIABLES, State


@dataclass
class Diagram:
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
    # per variable, the texts a condition (of a flow or a form) compares it with or looks for
    # in it (`"vgv" in geweldsvormen`): the options of a multi field that make routes differ
    constants: dict[str, set[str]] = field(default_factory=dict)
    # per variable, each condition that reads it: (its text, its text constants, whether it
    # reads this variable only); answers on which every one of them agrees route alike
    conditions: dict[str, list[tuple[str, frozenset[str], bool]]] = field(default_factory=dict)
    table_reads: set[str] = field(default_factory=set)  # variables a decision table reads
    live: dict[str, frozenset[str]] = field(default_factory=dict)  # node -> variables read later
    # The case data a route may start with (the owner's beroepsgroep, engine/professions.py),
    # each with the hop a witness route opens with (None: a case of any group no condition
    # names, which a witness does not spell out); see case_starts.
    starts: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)

    def only_after(self, node: str) -> set[str]:
        """User tasks reached from `node` from which `node` can no longer be reached."""
        return (_reach(self.flows, node) & self.user_tasks) - self.backward(node) - {node}

    def backward(self, node: str) -> set[str]:
        """Every node from which `node` can be reached."""
        return _reach(self.preds, node)


def _reach(edges: dict[str, list[str]], node: str) -> set[str]:
    """The nodes reached from `node` along `edges` (node -> neighbours), `node` itself only
    when it lies on a cycle."""
    seen: set[str] = set()
    todo = list(edges.get(node, []))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, []))
    return seen


def read_diagram(definition) -> Diagram | None:
    """What the proof reads of a parsed version's BPMN (its first BPMN file, the process of the
    spec) and of its DMN input expressions; None when the set has no BPMN file. In: an
    engine.definitions.ProcessDefinition that passed the checks of a deploy."""
    source = next((f for f in definition.files if f.kind == "bpmn"), None)
    if source is None:
        return None
    root = etree.fromstring(source.content, etree.XMLParser(resolve_entities=False,
                                                            no_network=True, load_dtd=False))
    diagram = Diagram(file=source.name)
    process = root.find(f"{{{BPMN_NS}}}process[@id='{definition.spec.name}']")
    if process is None:
        process = root.find(f"{{{BPMN_NS}}}process")
    assert process is not None, "a deployed version's BPMN has a process"
    diagram.process_line = process.sourceline or 1
    for node in process.iter():
        node_id = node.get("id")
        if not isinstance(node.tag, str) or not node_id:
            continue
        diagram.lines[node_id] = node.sourceline or 1
        name = " ".join((node.get("name") or "").split())
        diagram.labels[node_id] = name or node_id
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        role = (lane.get("name") or "").strip().lower()
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            diagram.lanes[(ref.text or "").strip()] = role
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        diagram.flows.setdefault(source, []).append(target)
        diagram.preds.setdefault(target, []).append(source)
        for cond in flow.iter(f"{{{BPMN_NS}}}conditionExpression"):
            diagram.routed |= _names(cond.text)
            _note_constants(diagram, cond.text)
    for gw in process.xpath(".//bpmn:parallelGateway | .//bpmn:inclusiveGateway", namespaces=NS):
        if len(diagram.preds.get(gw.get("id", ""), [])) > 1:
            diagram.joins.add(gw.get("id", ""))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        diagram.user_tasks.add(task.get("id", ""))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        task_reads = diagram.form_reads.setdefault(task.get("id", ""), set())
        for prop in task.iter(f"{{{CAMUNDA_NS}}}property"):
            # shown_when only puts a field on a case's form or leaves it off (engine/forms.py)
            # and routes nothing: the answers it reads are not told apart (a doubt in stap 1's
            # kindcheck would otherwise multiply every state up to stap 4); each form is still
            # filled and validated with the data of the state that reaches it
            if (prop.get("id") or "").endswith("_when") and prop.get("id") != "shown_when":
                task_reads |= _names(prop.get("value"))
                _note_constants(diagram, prop.get("value"))
    for dmn in (f for f in definition.files if f.kind == "dmn"):
        dmn_root = etree.fromstring(dmn.content, etree.XMLParser(resolve_entities=False,
                                                                 no_network=True, load_dtd=False))
        for node in dmn_root.iter():
            if isinstance(node.tag, str) and etree.QName(node).localname == "inputExpression":
                for text in node:
                    diagram.routed |= _names(text.text)
                    diagram.table_reads |= _names(text.text)
    # A form condition that reads an answer of another task makes that answer routed; one that
    # reads only its own form's answers is checked when the form is filled, then forgotten.
    diagram.routed |= RULE_VARIABLES
    # the rules of section 5 read these answers: tried both ways, and (read by no rule of
    # RULE_VARIABLES' kind) kept apart up to the decision table, as when a condition reads them
    diagram.routed |= SECTION5_VARIABLES
    # the rule on the expert reads the forms of violence like a condition: their subsets that
    # differ for it are tried, whatever the diagram's own conditions name
    _note_constants(diagram, EXPERT_NEEDED)
    reads: dict[str, set[str]] = {}
    for task_id, form_reads in diagram.form_reads.items():
        step = definition.steps.get(task_id)
        own = {f.name for f in step.fields} if step else set()
        diagram.routed |= form_reads - own
        reads[task_id] = (form_reads - own) | set(ORDER_READS.get(task_id, ()))
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for cond in flow.iter(f"{{{BPMN_NS}}}conditionExpression"):
            reads.setdefault(flow.get("sourceRef", ""), set()).update(_names(cond.text))
    dmn_inputs = diagram.routed - RULE_VARIABLES
    for brt in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        reads.setdefault(brt.get("id", ""), set()).update(dmn_inputs)
    # A user task's required fields are always answered when it completes: their earlier
    # values cannot reach anything after it (a loop back through it forgets them).
    writes = {task_id: {f.name for f in step.fields if f.required}
              for task_id, step in definition.steps.items()}
    diagram.live = _liveness(diagram, reads, writes)
    diagram.starts = case_starts(process)
    return diagram


GROUP = "beroepsgroep"  # engine/professions.py VARIABLE: the case data a case starts with


def case_starts(process) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The case data the proof starts a route with, one per kind of case: a real case starts
    with its owner's beroepsgroep (engine/professions.py), which a form's shown_when and
    required_when read (the KNMG points on a doctor's form), so each group a condition of the
    process names (a text constant of a condition that reads `beroepsgroep`: 'artsen') is one
    start, and the groups no condition names, which every condition sees alike, are one more,
    the first of them standing for all. Each start comes with the hop a witness route opens
    with: {"step": the start event, "data": {"beroepsgroep": ...}} for a named group, None for
    the others (a process that names no group has that one start, and its witnesses stay as
    they were). In: the process element. Raises nothing."""
    named: set[str] = set()
    texts = [c.text for c in process.iter(f"{{{BPMN_NS}}}conditionExpression")]
    texts += [p.get("value") for p in process.iter(f"{{{CAMUNDA_NS}}}property")
              if (p.get("id") or "").endswith("_when")]
    for text in texts:
        if GROUP in _names(text):
            tree = expressions.compile_expression(text or "")
            named |= {n.value for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    start = next(process.iter(f"{{{BPMN_NS}}}startEvent"), None)
    step = start.get("id", "") if start is not None else ""
    groups = list(organisation.BEROEPSGROEPEN)
    unnamed = [group for group in groups if group not in named]
    starts: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    if unnamed:
        starts.append(({GROUP: unnamed[0]}, None))
    starts += [({GROUP: group}, {"step": step, "data": {GROUP: group}})
               for group in groups if group in named]
    return starts


def _liveness(diagram: Diagram, reads: dict[str, set[str]],
              writes: dict[str, set[str]] | None = None) -> dict[str, frozenset[str]]:
    """Per flow node, the variables that node or any node after it may read before they are
    written again (a fixpoint over the flow graph, loops included; `writes`: per node the
    variables it always sets, the required fields of a user task): other answers cannot
    change the rest of a route."""
    writes = writes or {}
    nodes = set(diagram.flows) | set(diagram.preds) | set(reads)
    live = {n: set(reads.get(n, ())) for n in nodes}
    changed = True
    while changed:
        changed = False
        for node in nodes:
            for succ in diagram.flows.get(node, ()):
                extra = live.get(succ, set()) - writes.get(node, set()) - live[node]
                if extra:
                    live[node] |= extra
                    changed = True
    return {n: frozenset(v) for n, v in live.items()}


def _note_constants(diagram: Diagram, text: str | None) -> None:
    """Each text constant of a condition, and the condition itself, noted for every variable
    the condition reads (Diagram.constants, Diagram.conditions)."""
    try:
        tree = expressions.compile_expression(text or "")
    except expressions.ExpressionError:
        return
    found = frozenset(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                      and isinstance(n.value, str))
    names = _names(text)
    for name in names:
        diagram.constants.setdefault(name, set()).update(found)
        diagram.conditions.setdefault(name, []).append((text or "", found, names == {name}))


def _names(text: str | None) -> set[str]:
    try:
        return expressions.names_in(text or "") - set(expressions.CONSTANTS)
    except expressions.ExpressionError:
        return set()


class Findings:
    """Problems found so far: one per (element, rule), the first (shortest) witness kept."""

    def __init__(self, diagram: Diagram):
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
