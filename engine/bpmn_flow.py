"""Static checks of the sequence-flow graph of each (sub-)process in a BPMN file.

What is refused, and why: an element nothing leads to (it never runs), an element with no way
on that is not an end (the route silently stops there), a cycle of flows without a user task
(the engine would go round it forever on a worker), and a parallel gateway that merges flows
which do not all carry a token (the case waits there for good). The dynamic proof of every
route catches more; these messages say plainly what is wrong with the drawing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .messages import N_, Message
from .problems import BPMN_NS, Problem, joined, label_of
from .problems import line_of as _line

_NOT_FLOW = {"sequenceFlow", "laneSet", "textAnnotation", "association", "dataObject",
             "dataObjectReference", "dataStoreReference", "extensionElements",
             "documentation", "ioSpecification", "property", "group", "category",
             "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
             "dataInputAssociation", "dataOutputAssociation", "incoming", "outgoing",
             "completionCondition"}
_CHOICES = {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
_ROOT = "\0begin"
_EXIT = "\0einde"


@dataclass
class FlowGraph:
    """The flow nodes of one scope (process or sub-process) in document order and its
    sequence flows; `attached` maps an activity to the boundary events on it."""

    scope: etree._Element
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows_out: dict[str, list[etree._Element]] = field(default_factory=dict)
    succ: dict[str, list[str]] = field(default_factory=dict)
    pred: dict[str, list[str]] = field(default_factory=dict)
    attached: dict[str, list[str]] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)  # document order

    def kind(self, node_id: str) -> str:
        return etree.QName(self.nodes[node_id]).localname

    def moves(self, node_id: str) -> list[str]:
        """Where a token can go from a node: its flows and its boundary events."""
        return self.succ.get(node_id, []) + self.attached.get(node_id, [])


def flow_graph(scope) -> FlowGraph:
    """The FlowGraph of a bpmn:process or bpmn:subProcess element. Flows that name an
    element outside the scope are left out (the schema and the parser report those)."""
    graph = FlowGraph(scope)
    for child in scope:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        # an event sub-process is started by its event, not by a flow (and refused as such)
        if qname.namespace == BPMN_NS and qname.localname not in _NOT_FLOW and \
                child.get("id") and child.get("triggeredByEvent") != "true":
            graph.nodes[child.get("id")] = child
    graph.position = {node_id: i for i, node_id in enumerate(graph.nodes)}
    for flow in scope.findall(f"{{{BPMN_NS}}}sequenceFlow"):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source in graph.nodes and target in graph.nodes:
            graph.flows_out.setdefault(source, []).append(flow)
            graph.succ.setdefault(source, []).append(target)
            graph.pred.setdefault(target, []).append(source)
    for node_id, node in graph.nodes.items():
        host = node.get("attachedToRef", "")  # "" is no node: every node has an id
        if etree.QName(node).localname == "boundaryEvent" and host in graph.nodes:
            graph.attached.setdefault(host, []).append(node_id)
    return graph


def lint_flows(name: str, scope) -> list[Problem]:
    """Every flow problem of one bpmn:process or bpmn:subProcess element; `name` is the file
    name for the problems. Never raises on schema-valid input."""
    graph = flow_graph(scope)
    if not graph.nodes:
        return []
    return (_unreachable(name, graph) + _dead_ends(name, graph)
            + _cycles_without_user_task(name, graph) + _parallel_joins(name, graph))


def _entries(graph: FlowGraph) -> list[str]:
    return [node_id for node_id in graph.nodes if graph.kind(node_id) == "startEvent"]


def _unreachable(name: str, graph: FlowGraph) -> list[Problem]:
    entries = _entries(graph)
    if not entries:
        return [Problem(name, _line(graph.scope), Message(
            N_("{element} heeft geen startgebeurtenis"), element=label_of(graph.scope)))]
    seen = _reach(entries, graph.moves)
    return [
        Problem(name, _line(node), Message(N_("{element} is onbereikbaar vanaf het begin"),
                                           element=label_of(node)))
        for node_id, node in graph.nodes.items()
        if node_id not in seen
    ]


def _dead_ends(name: str, graph: FlowGraph) -> list[Problem]:
    return [
        Problem(name, _line(node), Message(N_(
            "{element} heeft geen uitgaande stroom: de route stopt daar zonder einde; laat haar "
            "eindigen in een eindgebeurtenis"), element=label_of(node)))
        for node_id, node in graph.nodes.items()
        if not graph.succ.get(node_id) and graph.kind(node_id) != "endEvent"
    ]


def _reach(starts, moves, blocked=()) -> set[str]:
    seen: set[str] = set()
    todo = [s for s in starts if s not in blocked]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(n for n in moves(current) if n not in seen and n not in blocked)
    return seen


# --- cycles ---------------------------------------------------------------------------------


def strongly_connected(nodes, moves) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (a diagram can be deep), each in
    the order of `nodes`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(moves(start)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(moves(child))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    order = {n: i for i, n in enumerate(nodes)}
    return [sorted(c, key=order.__getitem__) if len(c) > 1 else c for c in components]


def _cycles(graph: FlowGraph) -> list[list[str]]:
    return [c for c in strongly_connected(list(graph.nodes), graph.moves)
            if len(c) > 1 or c[0] in graph.moves(c[0])]


def _cycles_without_user_task(name: str, graph: FlowGraph) -> list[Problem]:
    problems = []
    for cycle in _cycles(graph):
        if any(graph.kind(n) == "userTask" for n in cycle):
            continue
        gateways = [n for n in cycle if graph.kind(n).endswith("Gateway")]
        at = graph.nodes[(gateways or cycle)[0]]
        steps = [label_of(graph.nodes[n]) for n in cycle[:6]] + (["…"] if len(cycle) > 6 else [])
        route = Message(" ({route})", route=joined(steps, " → ")) if len(cycle) > 1 else ""
        problems.append(Problem(name, _line(at), Message(N_(
            "lus zonder gebruikerstaak bij {element}{route}: een zaak kan hier eindeloos "
            "rondgaan zonder dat iemand iets doet; zet een gebruikerstaak in de lus of haal de "
            "lus weg"), element=label_of(at), route=route)))
    return problems


# --- parallel joins ---------------------------------------------------------------------------


def _idoms(entries, moves) -> tuple[dict[str, str], dict[str, int]]:
    """Immediate dominators (Cooper, Harvey and Kennedy) of every node reachable from a virtual
    root before `entries`, and each node's postorder number."""

    def edges(node):
        return entries if node == _ROOT else moves(node)

    order: list[str] = []
    seen = {_ROOT}
    work = [(_ROOT, iter(edges(_ROOT)))]
    while work:
        node, children = work[-1]
        for child in children:
            if child not in seen:
                seen.add(child)
                work.append((child, iter(edges(child))))
                break
        else:
            work.pop()
            order.append(node)
    number = {n: i for i, n in enumerate(order)}
    preds: dict[str, list[str]] = {}
    for node in order:
        for child in edges(node):
            preds.setdefault(child, []).append(node)
    idom = {_ROOT: _ROOT}

    def intersect(a: str, b: str) -> str:
        while a != b:
            while number[a] < number[b]:
                a = idom[a]
            while number[b] < number[a]:
                b = idom[b]
        return a

    changed = True
    while changed:
        changed = False
        for node in reversed(order[:-1]):
            new = None
            for p in preds.get(node, ()):
                if p in idom:
                    new = p if new is None else intersect(p, new)
            if new is not None and idom.get(node) != new:
                idom[node] = new
                changed = True
    return idom, number


def _conditional(graph: FlowGraph, node_id: str) -> bool:
    return any(flow.find(f"{{{BPMN_NS}}}conditionExpression") is not None
               for flow in graph.flows_out.get(node_id, []))


def _is_choice(graph: FlowGraph, node_id: str) -> bool:
    if graph.attached.get(node_id):
        return True
    if len(graph.succ.get(node_id, [])) < 2:
        return False
    return graph.kind(node_id) in _CHOICES or (
        not graph.kind(node_id).endswith("Gateway") and _conditional(graph, node_id))


def _is_parallel_split(graph: FlowGraph, node_id: str) -> bool:
    if node_id not in graph.nodes or len(graph.succ.get(node_id, [])) < 2:
        return False
    kind = graph.kind(node_id)
    return kind == "parallelGateway" or (
        not kind.endswith("Gateway") and not _conditional(graph, node_id))


def _parallel_joins(name: str, graph: FlowGraph) -> list[Problem]:
    joins = [n for n in graph.nodes
             if graph.kind(n) == "parallelGateway" and len(graph.pred.get(n, [])) > 1]
    if not joins:
        return []
    idom, _ = _idoms(_entries(graph), graph.moves)
    # post-dominators: dominators of the reversed graph from a virtual exit after every end
    ends = [n for n in graph.nodes if not graph.moves(n)]
    back: dict[str, list[str]] = {}
    for node in graph.nodes:
        for child in graph.moves(node):
            back.setdefault(child, []).append(node)
    ipdom, _ = _idoms(ends, lambda n: back.get(n, []))
    component = {n: i for i, c in enumerate(strongly_connected(list(graph.nodes), graph.moves))
                 for n in c}
    problems = []
    for join in joins:
        if join not in idom:
            continue  # unreachable: reported as such
        why = _join_problem(graph, join, idom, ipdom, component)
        if why:
            problems.append(Problem(name, _line(graph.nodes[join]), Message(N_(
                "parallelle gateway {gateway} wacht op een stroom die niet altijd komt: {why}"),
                gateway=label_of(graph.nodes[join]), why=why)))
    return problems


def _join_problem(graph: FlowGraph, join: str, idom, ipdom, component) -> Message | None:
    """Why a converging parallel gateway can wait for good, or None when its incoming flows
    are the branches of one parallel split, each of which always delivers its token.
    `component` maps a node to its strongly connected component."""
    split = idom[join]
    if not _is_parallel_split(graph, split):
        where = N_("het begin") if split == _ROOT else label_of(graph.nodes[split])
        return Message(N_("de binnenkomende stromen zijn alternatieven (na {where} gaat niet elke "
                          "route verder), geen takken van één parallelle splitsing; voeg ze "
                          "samen met een exclusieve of inclusieve gateway"), where=where)
    incoming = graph.pred[join]
    # A flow that comes back to the join through a loop, without passing the split again.
    # Such a loop lies inside the join's strongly connected component: search only there.
    looped = [u for u in incoming if component[u] == component[join]]
    if looped:
        inside = [n for n in graph.succ.get(join, []) if component[n] == component[join]]
        again = _reach(inside, lambda n: [m for m in graph.moves(n)
                                          if component[m] == component[join]], blocked={split})
    for source in looped:
        if source in again or source == join:
            return Message(N_("de stroom uit {element} komt via een lus terug, zonder nieuwe "
                              "parallelle splitsing; voeg een lus samen met een exclusieve "
                              "gateway"), element=label_of(graph.nodes[source]))
    # every choice between the split and the join must come together again before the join
    # (Every node that reaches the join without passing the split is dominated by the split:
    # otherwise a route to the join would avoid the split, its immediate dominator.)
    region = _reach(incoming, lambda n: graph.pred.get(n, []), blocked={split, join})
    for node in sorted(region, key=graph.position.__getitem__):
        if not _is_choice(graph, node):
            continue
        meet = ipdom.get(node)
        if meet is None or meet == join or meet not in region:
            return Message(N_("na {element} kan de route een andere kant op gaan, zodat niet "
                              "elke tak hier aankomt"), element=label_of(graph.nodes[node]))
    return None
