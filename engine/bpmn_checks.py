"""Static checks of a BPMN file: what SpiffWorkflow would accept but the product must refuse.

Each check returns Problems (FILE:LINE: message, in Dutch) and never raises on odd input.
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING

from lxml import etree

from . import expressions
from .problems import BPMN_NS, NS, Problem
from .problems import line_of as _line
from .roles import ROLES

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_REFUSED_TASKS = {
    "scriptTask": "scripttaken worden niet uitgevoerd",
    "serviceTask": "servicetaken worden niet ondersteund",
}

if TYPE_CHECKING:
    from .definitions import SourceFile


def expression_problem(name: str, node, text: str | None, what: str) -> Problem | None:
    try:
        expressions.compile_expression(text or "")
    except expressions.ExpressionError as exc:
        return Problem(name, _line(node), f"{what}: {exc}")
    return None


def lint(source: SourceFile, root) -> list[Problem]:
    name = source.name
    problems: list[Problem] = []

    def x(node, path):
        return node.xpath(path, namespaces=NS)

    for tag, reason in _REFUSED_TASKS.items():
        for node in x(root, f"//bpmn:{tag}"):
            problems.append(Problem(name, _line(node), f"{tag} '{node.get('id')}': {reason}"))

    for lane in x(root, "//bpmn:lane"):
        lane_name = (lane.get("name") or "").strip()
        if lane_name.lower() not in ROLES:
            problems.append(
                Problem(
                    name,
                    _line(lane),
                    f"lane '{lane_name or lane.get('id')}' is geen rol "
                    f"(toegestaan: {', '.join(ROLES)})",
                )
            )

    for node in x(root, "//bpmn:conditionExpression"):
        p = expression_problem(name, node, node.text, "ongeldige voorwaarde")
        if p:
            problems.append(p)

    for gw in x(root, "//bpmn:exclusiveGateway | //bpmn:inclusiveGateway"):
        gw_id = gw.get("id")
        outgoing = x(gw.getparent(), f"bpmn:sequenceFlow[@sourceRef='{gw_id}']")
        if len(outgoing) < 2:
            continue
        default = gw.get("default")
        for flow in outgoing:
            if flow.get("id") == default or x(flow, "bpmn:conditionExpression"):
                continue
            problems.append(
                Problem(
                    name,
                    _line(flow),
                    f"stroom '{flow.get('id')}' uit gateway '{gw_id}' heeft geen voorwaarde "
                    "en is niet de standaardstroom",
                )
            )

    for field_node in x(root, "//camunda:formField"):
        key = field_node.get("id") or ""
        if not _IDENTIFIER.match(key) or keyword.iskeyword(key) or key == "typename":
            problems.append(
                Problem(
                    name,
                    _line(field_node),
                    f"formulierveld '{key}' is geen geldige naam (letters, cijfers en _, "
                    "beginnend met een letter; niet 'typename')",
                )
            )
        if field_node.get("type") not in ("string", "long", "boolean", "date", "enum"):
            problems.append(
                Problem(name, _line(field_node), f"formulierveld '{key}' heeft een onbekend type")
            )
        for prop in x(field_node, "camunda:properties/camunda:property[@id='required_when']"):
            p = expression_problem(name, prop, prop.get("value"), f"voorwaarde van veld '{key}'")
            if p:
                problems.append(p)

    for scope in x(root, "//bpmn:process | //bpmn:subProcess"):
        problems.extend(_unreachable(name, scope))
    return problems


_NOT_FLOW = {"sequenceFlow", "laneSet", "textAnnotation", "association", "dataObject",
             "dataObjectReference", "dataStoreReference", "extensionElements",
             "documentation", "ioSpecification", "property", "group", "category"}


def _unreachable(name: str, scope) -> list[Problem]:
    nodes = {}
    for child in scope:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if etree.QName(child).namespace != BPMN_NS or local in _NOT_FLOW:
            continue
        if child.get("id"):
            nodes[child.get("id")] = child
    if not nodes:
        return []
    edges: dict[str, list[str]] = {}
    for flow in scope.findall(f"{{{BPMN_NS}}}sequenceFlow"):
        edges.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    attached: dict[str, list[str]] = {}
    roots = []
    for node_id, node in nodes.items():
        local = etree.QName(node).localname
        if local == "boundaryEvent":
            attached.setdefault(node.get("attachedToRef"), []).append(node_id)
        elif local == "startEvent" or (
            local == "subProcess" and node.get("triggeredByEvent") == "true"
        ):
            roots.append(node_id)
    if not roots:
        return [Problem(name, _line(scope), f"'{scope.get('id')}' heeft geen startgebeurtenis")]
    seen = set()
    todo = list(roots)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(edges.get(current, []))
        todo.extend(attached.get(current, []))
    return [
        Problem(name, _line(node), f"element '{node_id}' is onbereikbaar vanaf het begin")
        for node_id, node in nodes.items()
        if node_id not in seen
    ]
