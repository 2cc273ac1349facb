"""Static checks of a BPMN file: what SpiffWorkflow would accept but the product must refuse.

Each check returns Problems (FILE:LINE: message, in Dutch, naming an element by its label)
and never raises on schema-valid input. Elements the product does not execute live in
bpmn_elements, checks of the flow graph in bpmn_flow; this module runs them all and checks
conditions, gateways, lanes and form fields.
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING, Any

from lxml import etree

from . import expressions, form_checks, forms, timers
from .bpmn_elements import lint_elements
from .bpmn_flow import flow_graph, lint_flows
from .messages import N_, Message, text_of
from .problems import NS, Problem, label_of, shown_text
from .problems import line_of as _line
from .roles import ROLES, TASK_LANES

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_FIELD_TYPES = ("string", "long", "boolean", "date", "enum", "multi")
_EXEMPTIONS = ("geen", "veiligheid", "contact_verbreken")
# CONTRACT sections 1 and 5: a form field with one of these names has this camunda type
# (a contract "text" is a camunda "string"), and an enum exactly these options.
CONTRACT_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{name: ("boolean", ()) for name in (
        "kindcheck_kinderen", "advies_veilig_thuis", "zorgen_weggenomen", "vermoeden",
        "acute_onveiligheid", "structurele_onveiligheid", "hulp_mogelijk", "hulp_aanvaard",
        "hulp_effectief", "terugkoppeling_ontvangen", "terugkoppeling_vervolg",
        "pleger_zorgverlener", "kindcheck_opvang_adequaat", "kindcheck_bescherming")},
    "gesprek_uitzondering": ("enum", _EXEMPTIONS),
    "melding_uitzondering": ("enum", _EXEMPTIONS),
    **{name: ("string", ()) for name in (
        "gesprek_uitzondering_reden", "melding_uitzondering_reden",
        "terugkoppeling_toelichting")},
    "hulp_evaluatiedatum": ("date", ()),
    # CONTRACT section 5: the options "include" these (a diagram may offer more)
    "geweldsvormen": ("multi", ("lichamelijk", "psychisch", "seksueel", "verwaarlozing",
                                "financieel", "schending_rechten", "getuige", "eergerelateerd",
                                "huwelijksdwang", "achterlating", "vgv")),
}
# CONTRACT section 5: fields required exactly when an answer of the same form has this value, by
# a required_when (the field's "required" then false): field -> (variable, value that requires
# it). Checked on a form that asks that variable (where the contract puts them).
CONTRACT_REQUIRED_WHEN: dict[str, tuple[str, bool]] = {
    "kindcheck_opvang_adequaat": ("kindcheck_kinderen", True),
    "kindcheck_bescherming": ("kindcheck_kinderen", True),
    "terugkoppeling_toelichting": ("terugkoppeling_ontvangen", False),
}
# Element ids the product gives a meaning of its own (CONTRACT section 5): a task with step
# `consult` is a question to a colleague (engine/consults.py, cases.OWN_TASK_NAMES), which only
# the person asked may complete, outside the diagram's replay. A diagram element with that id
# would be taken for one: its owner gets 403 and verify fails (issue 13 break-it).
RESERVED_IDS = {"consult": N_("een vraag aan een collega (raadpleging)")}
_TYPE_WORDS = {"boolean": N_("een ja/nee-veld (boolean)"), "string": N_("een tekstveld (string)"),
               "date": N_("een datumveld (date)"), "enum": N_("een keuzeveld (enum)"),
               "multi": N_("een meerkeuzeveld (multi)")}

# A date field's bounds (engine/forms.py, TODAY): the property, and what its one value means.
DATE_BOUNDS = {"not_after": N_("vandaag of eerder, voor de datum van iets wat gebeurd is"),
               "not_before": N_("vandaag of later, voor de datum van iets wat gepland wordt")}

if TYPE_CHECKING:
    from .definitions import SourceFile


def expression_problem(name: str, node, text: str | None, what: str) -> Problem | None:
    """A Problem at `node` when `text` is no expression our evaluator accepts, else None;
    `what` (a Message) says which expression, the evaluator's reason follows it."""
    try:
        expressions.compile_expression(text or "")
    except expressions.ExpressionError as exc:
        return Problem(name, _line(node), Message("{what}: {reason}", what=what,
                                                  reason=text_of(exc)))
    return None


def lint(source: SourceFile, root) -> list[Problem]:
    """Every problem of one schema-valid BPMN file (`root` its parsed definitions element)
    that the product refuses beyond the schema: a list of Problems, empty when the file is
    fine. Never raises."""
    name = source.name
    problems = lint_elements(name, root)
    problems += _lane_problems(name, root)
    problems += _reserved_id_problems(name, root)
    problems += _timer_problems(name, root)
    problems += form_checks.lint_fields(name, root)
    for node in root.xpath("//bpmn:conditionExpression", namespaces=NS):
        p = expression_problem(name, node, node.text, Message(N_(
            "ongeldige voorwaarde op stroom {flow}"), flow=label_of(node.getparent())))
        if p:
            problems.append(p)
    for field_node in root.xpath("//camunda:formField", namespaces=NS):
        owner = field_node.getparent()
        while owner.getparent() is not None and not owner.get("id"):
            owner = owner.getparent()
        problems += _field_problems(name, owner, field_node)
    for scope in root.xpath("//bpmn:process | //bpmn:subProcess", namespaces=NS):
        problems += _gateway_problems(name, scope)
        problems += lint_flows(name, scope)
    return problems


def _lane_problems(name: str, root) -> list[Problem]:
    problems = []
    allowed = ", ".join(TASK_LANES)
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        role = " ".join((lane.get("name") or "").split()).lower()
        if role in TASK_LANES:
            continue
        if role in ROLES:
            message = Message(N_("lane {lane}: de {role} rondt geen taken af, dus de taken in "
                                 "deze lane komen bij niemand terecht (lanes met taken: "
                                 "{allowed})"), lane=label_of(lane), role=role, allowed=allowed)
        else:
            message = Message(N_("lane {lane} is geen rol die taken afrondt (toegestaan: "
                                 "{allowed})"), lane=label_of(lane), allowed=allowed)
        problems.append(Problem(name, _line(lane), message))
    return problems


def _reserved_id_problems(name: str, root) -> list[Problem]:
    problems = []
    for node in root.xpath("//bpmn:*[@id]", namespaces=NS):
        meaning = RESERVED_IDS.get(node.get("id"))
        if meaning is not None:
            problems.append(Problem(name, _line(node), Message(N_(
                "{element} heeft id '{id}', en die gebruikt het product zelf voor {meaning}: "
                "zo'n taak zou voor iets anders worden aangezien en vastlopen; kies een andere "
                "id"), element=label_of(node), id=node.get("id"), meaning=meaning)))
    return problems


def _timer_problems(name: str, root) -> list[Problem]:
    """Each timer text worked out as a deploy can (engine/timers.py text_problem); an
    expression goes through the safe evaluator."""
    problems = []
    for node in root.xpath("//bpmn:timerEventDefinition/*", namespaces=NS):
        kind = etree.QName(node).localname
        if kind not in ("timeDate", "timeDuration", "timeCycle"):
            continue
        event = node.getparent().getparent()
        why = timers.text_problem(kind, node.text)
        what = Message(N_("timer van {event}"), event=label_of(event))
        if why is not None:
            problems.append(Problem(name, _line(node), Message("{what}: {why}", what=what,
                                                               why=why)))
        elif timers.expression_text(node.text) is not None:
            p = expression_problem(name, node, timers.expression_text(node.text), what)
            if p:
                problems.append(p)
    return problems


def _gateway_problems(name: str, scope) -> list[Problem]:
    """An exclusive or inclusive gateway that chooses must say on every flow when to take it."""
    graph = flow_graph(scope)
    problems = []
    for gw_id, gw in graph.nodes.items():
        if graph.kind(gw_id) not in ("exclusiveGateway", "inclusiveGateway"):
            continue
        outgoing = graph.flows_out.get(gw_id, [])
        if len(outgoing) < 2:
            continue
        for flow in outgoing:
            if flow.get("id") == gw.get("default") or \
                    flow.xpath("bpmn:conditionExpression", namespaces=NS):
                continue
            problems.append(Problem(name, _line(flow), Message(N_(
                "stroom {flow} uit gateway {gateway} heeft geen voorwaarde en is niet de "
                "standaardstroom"), flow=label_of(flow), gateway=label_of(gw))))
    return problems


def _field_problems(name: str, task, field_node) -> list[Problem]:
    key = field_node.get("id") or ""
    kind = field_node.get("type")
    where = Message(N_("formulierveld '{field}' van {task}"), field=shown_text(key), task=label_of(task))
    problems = []

    def problem(node, template: str, **params) -> None:
        problems.append(Problem(name, _line(node), Message(template, where=where, **params)))

    if not _IDENTIFIER.match(key) or keyword.iskeyword(key) or key == "typename":
        problem(field_node, N_("{where} is geen geldige naam (letters, cijfers en _, beginnend "
                               "met een letter; niet 'typename')"))
    elif key in expressions.CONSTANTS:
        problem(field_node, N_("{where} heet als een vaste waarde in voorwaarden (true, false, "
                               "null): kies een andere naam"))
    if kind not in _FIELD_TYPES:
        problem(field_node, N_("{where} heeft een onbekend type"))
    options = tuple(v.get("id") or "" for v in field_node.xpath("camunda:value", namespaces=NS))
    if kind in ("enum", "multi") and not options:
        problem(field_node, N_("{where} is een keuzeveld zonder opties: het kan nooit worden "
                               "ingevuld"))
    expected = CONTRACT_FIELDS.get(key)
    if expected and kind in _FIELD_TYPES:
        want_type, want_options = expected
        if kind != want_type:
            problem(field_node, N_("{where} moet {kind} zijn, zoals het contract voorschrijft; "
                                   "het proces rekent met dat type"), kind=_TYPE_WORDS[want_type])
        elif want_options and kind == "multi" and not set(want_options) <= set(options):
            problem(field_node, N_("{where} moet ten minste de opties {options} hebben, zoals "
                                   "het contract voorschrijft"), options=", ".join(want_options))
        elif want_options and kind != "multi" and sorted(options) != sorted(want_options):
            problem(field_node, N_("{where} moet precies de opties {options} hebben, zoals het "
                                   "contract voorschrijft"), options=", ".join(want_options))
    if key in CONTRACT_REQUIRED_WHEN and _asks(task, CONTRACT_REQUIRED_WHEN[key][0]) and \
            not _required_as_contract(field_node, key):
        variable, value = CONTRACT_REQUIRED_WHEN[key]
        problem(field_node, N_("{where} moet verplicht zijn precies wanneer {condition} "
                               "(required_when), zoals het contract voorschrijft"),
                condition=f"{variable} == {value}")
    # Every form condition (required_when, invalid_when, shown_when) goes through the safe
    # evaluator.
    for prop in field_node.xpath("camunda:properties/camunda:property[@id='required_when' or "
                                 "@id='invalid_when' or @id='shown_when']", namespaces=NS):
        p = expression_problem(name, prop, prop.get("value"),
                               Message(N_("voorwaarde van {where}"), where=where))
        if p:
            problems.append(p)
    problems += [Problem(name, _line(node), Message(template, where=where, **params))
                 for node, template, params in _date_bound_faults(field_node, kind)]
    return problems


def _date_bound_faults(field_node, kind: str | None) -> list[tuple[Any, str, dict]]:
    """What is wrong with a form field's not_after / not_before (DATE_BOUNDS): (property
    node, Dutch template with {where}, its values) each. engine.forms reads such a bound only
    on a date field, only its first copy and only the value "today" (forms.TODAY); anything
    else it passes over without a word, so a procesbeheerder's "tomorow" or "gisteren", or the
    bound on a text field, would leave every date open. The value is taken as written
    ("today", as the shipped diagram has it; forms would also read " Today "). not_after and
    not_before "today" together are no contradiction: only today is taken."""
    faults: list[tuple[Any, str, dict]] = []
    seen: set[str] = set()
    for prop in field_node.xpath("camunda:properties/camunda:property[@id='not_after' or "
                                 "@id='not_before']", namespaces=NS):
        bound, value = prop.get("id"), prop.get("value") or ""
        if bound in seen:
            faults.append((prop, N_("{where} heeft de eigenschap {bound} meer dan eens; het "
                                    "product leest alleen de eerste. Geef haar één keer"),
                           {"bound": bound}))
        elif kind != "date":
            faults.append((prop, N_("{where} heeft de eigenschap {bound}, maar die geldt "
                                    "alleen voor een datumveld (type date): op dit veld zou "
                                    "het product haar negeren"), {"bound": bound}))
        elif value != forms.TODAY:
            faults.append((prop, N_("{where}: de eigenschap {bound} kent alleen de waarde "
                                    "'{today}' ({meaning}), niet '{value}'; met een andere "
                                    "waarde zou het product de grens negeren"),
                           {"bound": bound, "value": shown_text(value), "today": forms.TODAY,
                            "meaning": DATE_BOUNDS[bound]}))
        seen.add(bound)
    return faults


def _required_as_contract(field_node, key: str) -> bool:
    """Whether a field of CONTRACT_REQUIRED_WHEN is required as section 5 says: not always
    (no required constraint), and by a required_when that holds when its variable has the
    value that requires it and not when it has the other. A condition that reads more than
    that variable, or cannot be evaluated, does not."""
    if field_node.xpath("camunda:validation/camunda:constraint[@name='required']",
                        namespaces=NS):
        return False
    conditions = field_node.xpath("camunda:properties/camunda:property[@id='required_when']"
                                  "/@value", namespaces=NS)
    if len(conditions) != 1:
        return False
    variable, value = CONTRACT_REQUIRED_WHEN[key]
    try:
        return expressions.evaluate(conditions[0], {variable: value}) is True and \
            expressions.evaluate(conditions[0], {variable: not value}) is False
    except expressions.ExpressionError:
        return False


def _asks(task, variable: str) -> bool:
    """Whether the form of user task `task` has a field `variable`."""
    return bool(task.xpath(f"bpmn:extensionElements/camunda:formData/camunda:formField"
                           f"[@id='{variable}']", namespaces=NS))
