"""Static checks of what the conditions of a process read: a condition that can never be worked
out, or never holds as meant, switches its rule off in silence.

A form field's shown_when, required_when and invalid_when (engine.forms) that cannot be
evaluated do not hold: the field is never shown, never required, the answer never refused. A
gateway's condition that cannot be evaluated stops the case; a timer's expression too. So a
deploy refuses (issue 14 break-it), naming the element (label and id), the field and the
property:
- a name that no form field, decision or case datum answers to (`beroepsgrope`), with
  "bedoelt u ...?" for a near miss;
- a name that is only filled in by a step that comes on no route before the condition: the
  answer of a later step (in a loop, a step before it in any round counts as before);
- a name the condition cannot see: the case data a case starts with (`beroepsgroep`,
  engine.professions) reach the form conditions only, the engine's facts
  (engine.driving.ENGINE_FACTS) the gateways and timers only;
- a shown_when that reads a field of its own form, a required_when that reads its own field:
  worked out before that answer is given, so the outcome depends on the order;
- a comparison with a value the variable never holds, or of a type it never has
  (engine.condition_values).
What a condition may read follows the runtime: a form condition the case data (the start data,
every answer recorded so far and the decisions: engine.cases, engine.tasks) and the answers of
its own form; a gateway or timer the workflow's data (the answers and decisions before it, and
the engine's facts: engine.driving).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from . import expressions, form_conditions, forms, timers
from .bpmn_flow import flow_graph
from .condition_values import value_problems
from .failures import kind_of
from .form_checks import CONDITIONS, element_named, field_where, hint, owner_of, suggestion
from .messages import N_, Message
from .problems import BPMN_NS, CAMUNDA_NS, NS, Problem, joined
from .problems import line_of as _line

_FORM, _FLOW = "form", "flow"  # who reads: a form condition, a gateway's or timer's
_READERS = {
    _FORM: N_("de voorwaarden van formuliervelden"),
    _FLOW: N_("de voorwaarden op stromen en de timers"),
}


@dataclass
class _Process:
    """One bpmn:process as its conditions see it: per flow node what it fills in and the nodes
    before it (on some route from the start, loops included)."""

    writes: dict[str, set[str]] = field(default_factory=dict)
    before: dict[str, set[str]] = field(default_factory=dict)
    writers: dict[str, list[Any]] = field(default_factory=dict)  # variable -> nodes filling it
    fields: dict[str, list[Any]] = field(default_factory=dict)  # variable -> camunda:formField
    start: dict[str, set[str]] = field(default_factory=dict)  # reader -> what it sees at once
    complete: bool = True  # False: a decision read is not in the set (reported elsewhere)

    def known(self, node_id: str | None, reader: str, own: set[str]) -> set[str]:
        """What a condition of `reader` at `node_id` may read: the start data of its kind, `own`
        (its form's fields, or what the flow's source fills in) and all the nodes before it
        fill in. A node outside the flow graph (reported elsewhere) sees every variable."""
        if node_id not in self.before:
            return set(self.writers) | self.start[_FORM] | self.start[_FLOW]
        seen = set(self.start[reader]) | own
        for node in self.before[node_id]:
            seen |= self.writes.get(node, set())
        return seen


def check_set(roots: dict) -> list[Problem]:
    """The problems of every condition of every process in the set's BPMN files (`roots`:
    file name -> parsed root of the files that passed the XML and schema checks; the DMN
    files among them give the decisions' outputs). Each a Problem (FILE:LINE: Dutch message)
    at the condition. Never raises: a condition the evaluator refuses is left to the lint of
    its file."""
    try:
        return _check_set(roots)
    except Exception as exc:  # noqa: BLE001 - a check that fails is a verdict, never a crash
        return [
            Problem(
                next(iter(roots), "-"),
                1,
                Message(N_("de voorwaarden kunnen niet worden gecontroleerd: {reason}"), reason=kind_of(exc)),
            )
        ]


def _check_set(roots: dict) -> list[Problem]:
    from .driving import ENGINE_FACTS  # driving imports definitions, which imports this
    from .professions import VARIABLE

    outputs = _decision_outputs(roots)
    problems = []
    for name, root in roots.items():
        if etree.QName(root).namespace != BPMN_NS:
            continue
        for process in root.xpath("//bpmn:process", namespaces=NS):
            graph = _read(process, outputs, {_FORM: {VARIABLE}, _FLOW: set(ENGINE_FACTS)})
            problems += _problems(name, process, graph, VARIABLE)
    return problems


def _decision_outputs(roots: dict) -> dict[str, set[str]]:
    """Decision id -> the names of its outputs, over the set's DMN files (any DMN version)."""
    found: dict[str, set[str]] = {}
    for root in roots.values():
        for decision in root.xpath("//*[local-name()='decision'][@id]"):
            found.setdefault(decision.get("id"), set()).update(
                o.get("name") for o in decision.xpath(".//*[local-name()='output'][@name]")
            )
    return found


def _read(process, outputs: dict[str, set[str]], start: dict[str, set[str]]) -> _Process:
    graph = _Process(start=start)
    succ: dict[str, list[str]] = {}
    scopes = [process, *process.xpath(".//bpmn:subProcess", namespaces=NS)]
    graphs = {scope: flow_graph(scope) for scope in scopes}
    for scope, g in graphs.items():
        for node_id in g.nodes:
            succ.setdefault(node_id, []).extend(g.moves(node_id))
        parent = graphs.get(scope.getparent()) if scope is not process else None
        if parent is not None and scope.get("id") in parent.nodes:
            # a sub-process runs its own flow between its entry and its way on
            starts = [n for n in g.nodes if g.kind(n) == "startEvent"]
            succ.setdefault(scope.get("id"), []).extend(starts)
            for end in (n for n in g.nodes if not g.succ.get(n)):
                succ.setdefault(end, []).extend(parent.moves(scope.get("id")))
    for g in graphs.values():
        for node_id, node in g.nodes.items():
            kind = g.kind(node_id)
            filled: set[str] = set()
            if kind == "userTask":
                fields = node.xpath(
                    "bpmn:extensionElements/camunda:formData/camunda:formField[@id]", namespaces=NS
                )
                filled = {f.get("id") for f in fields}
                for f in fields:
                    graph.fields.setdefault(f.get("id"), []).append(f)
            elif kind == "businessRuleTask":
                ref = node.get(f"{{{CAMUNDA_NS}}}decisionRef") or ""
                graph.complete &= ref in outputs
                filled = set(outputs.get(ref, ()))
            graph.writes[node_id] = filled
            for variable in filled:
                graph.writers.setdefault(variable, []).append(node)
    preds: dict[str, set[str]] = {}
    for node_id, targets in succ.items():
        for target in targets:
            preds.setdefault(target, set()).add(node_id)
    for node_id in succ:
        seen: set[str] = set()
        todo = list(preds.get(node_id, ()))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(preds.get(current, ()))
        graph.before[node_id] = seen
    return graph


def _problems(name: str, process, graph: _Process, group: str) -> list[Problem]:
    problems = []
    for field_node in process.xpath(".//camunda:formField", namespaces=NS):
        owner = owner_of(field_node)
        own = {f.get("id") for f in owner.xpath(".//camunda:formField[@id]", namespaces=NS)}
        known = graph.known(owner.get("id"), _FORM, own)
        for prop in field_node.xpath("camunda:properties/camunda:property", namespaces=NS):
            if prop.get("id") in CONDITIONS:
                where = Message(
                    N_("{property} van {field}"),
                    property=prop.get("id"),
                    field=field_where(field_node, owner),
                )
                wrong = _condition(name, prop, prop.get("value"), where, _FORM, known, graph, group)
                problems += wrong + _own_answers(name, prop, where, field_node.get("id"), own)
                if not wrong:  # a condition that is wrong as written: that finding alone
                    problems += _unshown(name, prop, where, field_node.get("id"), owner)
    for flow in process.xpath(".//bpmn:sequenceFlow[bpmn:conditionExpression]", namespaces=NS):
        source = flow.get("sourceRef")
        known = graph.known(source, _FLOW, graph.writes.get(source, set()))
        node = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        where = Message(N_("de voorwaarde op stroom {flow}"), flow=element_named(flow))
        problems += _condition(name, node, node.text, where, _FLOW, known, graph, group)
    for node in process.xpath(".//bpmn:timerEventDefinition/*", namespaces=NS):
        event = node.getparent().getparent()
        text = (
            timers.expression_text(node.text)
            if etree.QName(node).localname in ("timeDate", "timeDuration", "timeCycle")
            else None
        )
        if text is None:
            continue
        # a boundary timer is set when its activity starts: what that activity fills in is
        # not there yet
        at = event.get("attachedToRef") or event.get("id")
        known = graph.known(at, _FLOW, set())
        where = Message(N_("timer van {event}"), event=element_named(event))
        problems += _condition(name, node, text, where, _FLOW, known, graph, group)
    return problems


def _condition(
    name: str,
    node,
    text: str | None,
    where: Message,
    reader: str,
    known: set[str],
    graph: _Process,
    group: str,
) -> list[Problem]:
    """The problems of one condition `text` at `node` read by `reader`, seeing `known`."""
    try:
        tree = expressions.compile_expression(text or "")
        names = expressions.names_in(text or "")
    except expressions.ExpressionError:
        return []  # refused as an expression by the lint of the file
    messages = []
    for variable in sorted(names - known):
        message = _unreadable(variable, where, reader, known, graph)
        if message is not None:
            messages.append(message)
    messages += value_problems(tree, where, known, graph.fields, graph.start[_FLOW], group)
    if reader == _FLOW:
        unasked = [v for v in sorted(names) if _sometimes(graph.fields.get(v, []))]
        messages += [Message(_UNASKED_MULTI, where=where, name=v) for v in unasked]
    return [Problem(name, _line(node), m) for m in dict.fromkeys(messages)]


_UNASKED_MULTI = N_(
    "{where} leest '{name}', een meerkeuzevraag met required_when: waar die vraag niet gesteld is, "
    "heeft '{name}' geen waarde (een vraag die niet gesteld is, is niet beantwoord), en dan stopt "
    "de casus bij deze voorwaarde. Lees hier een veld dat altijd gevraagd wordt, of geef '{name}' "
    "geen required_when"
)


def _sometimes(fields: list[Any]) -> bool:
    """Whether a variable is a multi field with a required_when on some form: not asked, it
    gets no [] (engine.forms.validate, form_choices.defaults_of: issue 14 F1), so a gateway or
    timer reading it would meet an unknown variable and stop the case."""
    conditional = "camunda:properties/camunda:property[@id='required_when']"
    return any(f.get("type") == "multi" and f.xpath(conditional, namespaces=NS) for f in fields)


# A condition over the answers of its own form that is worked out before they are given.
_OWN_FORM = N_(
    "{where} leest '{name}', een veld van hetzelfde formulier, maar shown_when wordt uitgerekend "
    "voordat het formulier wordt ingevuld, over de gegevens van de casus: '{name}' is dan nog niet "
    "bekend, of is nog het antwoord van een eerdere ronde, dus of het veld op het formulier staat "
    "hangt af van de volgorde. Een voorwaarde over de antwoorden van dit formulier hoort in "
    "required_when (wanneer het veld verplicht is) of invalid_when (wanneer een antwoord "
    "geweigerd wordt)"
)
_OWN_FIELD = N_(
    "{where} leest het eigen veld '{name}': of de vraag gesteld wordt, hangt dan af van het "
    "antwoord erop, dat pas na het versturen bekend is (leeg gelaten: de standaardwaarde), dus de "
    "regel draait in een kring rond. Een voorwaarde over het eigen antwoord hoort in invalid_when"
)


def _own_answers(name: str, prop, where: Message, field_id: str | None, own: set[str]) -> list[Problem]:
    """A shown_when that reads a field of its own form, or a required_when that reads its own
    field: order-dependent (issue 14 break-it). forms.shown_fields works shown_when out over
    the case data before the form is answered (there the name is unknown, or an earlier
    round's answer); forms.validate reads a required_when over the answers, its own included,
    so whether the question is asked depends on its answer. invalid_when may read its own
    field: it judges that answer."""
    try:
        names = expressions.names_in(prop.get("value") or "")
    except expressions.ExpressionError:
        return []  # refused as an expression by the lint of the file
    if prop.get("id") == "shown_when":
        read, template = sorted(names & own), _OWN_FORM
    elif prop.get("id") == "required_when" and field_id in names:
        read, template = [field_id], _OWN_FIELD
    else:
        return []
    return [Problem(name, _line(prop), Message(template, where=where, name=n)) for n in read]


_UNSHOWN = N_(
    "{where} leest het ja/nee-veld '{name}' van hetzelfde formulier zo dat het formulier in de "
    "browser de regel niet kan volgen: het veld zou altijd getoond worden en '(verplicht)' heten, "
    "terwijl de server het anders beslist. Schrijf '{name} == True' of '{name} == False' (of "
    "'{name}', 'not {name}', '{name} is True', '{name} in [True]'), tegen een vaste waarde en "
    "verbonden met and"
)
_UNSHOWN_MULTI = N_(
    "{where} leest het meerkeuzeveld '{name}' van hetzelfde formulier in '{part}': het formulier "
    "in de browser kan die regel niet volgen, dus het veld zou altijd getoond worden en "
    "'(verplicht)' heten, terwijl de server het anders beslist. Lees een meerkeuzeveld pas in een "
    "latere stap, of stel hier een ja/nee-vraag en schrijf '<die vraag> == True'"
)
_UNSHOWN_PART = N_(
    "{where} leest in '{part}' velden van hetzelfde formulier zo dat het formulier in de browser "
    "de regel niet kan volgen: het veld zou altijd getoond worden en '(verplicht)' heten, terwijl "
    "de server het anders beslist. Vergelijk elk veld van dit formulier apart met een vaste waarde "
    "('veld == waarde' of 'veld != waarde') en verbind die met and"
)


def _unshown(name: str, prop, where: Message, field_id: str | None, owner) -> list[Problem]:
    """A required_when, or an invalid_when that does not read its own field, that reads fields
    of its own form in a part the web form cannot check (form_conditions.unshown): the page
    would show and require the field whatever the answer, while the server does not ask it or
    refuses an answer to it (issue 14, a fresh tester). One finding per such part, naming what
    the page cannot follow: a multi field in it (a list: `'lichamelijk' in geweldsvormen`), else
    a ja/nee field, else the part. An invalid_when over its own field judges the answer only
    and stays with the server (form_conditions.refusals)."""
    text = prop.get("value") or ""
    try:
        own_field = field_id in expressions.names_in(text)
    except expressions.ExpressionError:
        return []  # refused as an expression by the lint of the file
    kind = prop.get("id")
    if kind not in ("required_when", "invalid_when") or (kind == "invalid_when" and own_field):
        return []
    fields = owner.xpath(".//camunda:formField[@id]", namespaces=NS)
    # the contract's types, as the page gets them (a camunda "long" is an "integer")
    types = {f.get("id"): forms.FIELD_TYPES.get(f.get("type") or "", "string") for f in fields}
    parts: dict[str, list[str]] = {}
    for read_name, part in form_conditions.unshown(text, types):
        parts.setdefault(part, []).append(read_name)
    problems = []
    for part, read in parts.items():
        multi = [n for n in read if types[n] == "multi"]
        yes_no = [n for n in read if types[n] == "boolean"]
        if multi:
            message = Message(_UNSHOWN_MULTI, where=where, name=multi[0], part=part)
        elif yes_no:
            message = Message(_UNSHOWN, where=where, name=yes_no[0])
        else:
            message = Message(_UNSHOWN_PART, where=where, part=part)
        problems.append(Problem(name, _line(prop), message))
    return problems


def _unreadable(
    variable: str, where: Message, reader: str, known: set[str], graph: _Process
) -> Message | None:
    """Why `variable` cannot be read here, or None when nothing can be said (the set lacks a
    decision, whose outputs are unknown)."""
    if not graph.complete:
        return None
    writers = graph.writers.get(variable)
    if writers:
        return Message(
            N_(
                "{where} leest '{name}', maar dat wordt pas ingevuld in {steps}, en die stap komt op "
                "geen route vóór deze: hier is '{name}' nog niet bekend, dus de voorwaarde kan niet "
                "worden uitgerekend en de regel werkt niet"
            ),
            where=where,
            name=variable,
            steps=joined([element_named(w) for w in writers]),
        )
    other = _FLOW if reader == _FORM else _FORM
    if variable in graph.start[other]:
        return Message(
            N_(
                "{where} leest '{name}', maar dat gegeven krijgen alleen {readers}: hier kan de "
                "voorwaarde niet worden uitgerekend en werkt de regel niet"
            ),
            where=where,
            name=variable,
            readers=_READERS[other],
        )
    return Message(
        N_(
            "{where} leest '{name}', maar geen formulierveld, beslissing of gegeven van de casus "
            "heet zo: de voorwaarde kan nooit worden uitgerekend en de regel werkt niet{hint}"
        ),
        where=where,
        name=variable,
        hint=_name_hint(variable, known, graph),
    )


def _name_hint(variable: str, known: set[str], graph: _Process) -> Message | str:
    """ "; bedoelt u 'x'?": a name readable here (or True, False, None) first, else any
    variable of the process."""
    here = [*sorted(known), "True", "False", "None"]
    if suggestion(variable, [c for c in here if c != variable]):
        return hint(variable, here)
    return hint(variable, sorted({*graph.writers, *graph.start[_FORM], *graph.start[_FLOW]}))
