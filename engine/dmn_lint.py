"""Static checks of one DMN file (`lint`), and the copy of it that SpiffWorkflow gets
(`executable`).

What SpiffWorkflow's DMN engine (SpiffWorkflow/dmn) does decides what we check:
- DMNEngine.decide() collects every matching rule, stopping at the first under UNIQUE;
  result() gives lists under COLLECT and otherwise the outputs of the first matching rule.
  So UNIQUE, FIRST and ANY run as written when rules that overlap agree (checked over every
  combination of input values by engine.dmn_coverage), and COLLECT runs without an aggregation
  but gives lists, which no gateway condition reads as one value. PRIORITY, RULE ORDER, OUTPUT
  ORDER and an aggregation are not executed as written and are refused.
- Input cells are FEEL unary tests (`true,false` is "either"); the engine would glue cell and
  input into one Python comparison and misread them. `executable` hands SpiffWorkflow a copy
  in which every cell is spelled out by expressions.dmn_input_test, and engine.dmn_coverage
  evaluates that same copy with the real DMNEngine.
- DMN 1.1 to 1.5 parse alike; SpiffWorkflow carries the schemas of 1.1 and 1.3 only (its 1.2
  schema does not load), so 1.2, 1.4 and 1.5 are validated as DMN 1.3 (`schema_view`).

Checks of a table against the rest of its file set (the values its inputs can take, gaps,
overlaps, CONTRACT rule 5) are engine.dmn_coverage's. Every check returns Problems
(FILE:LINE: message, in Dutch) and never raises.
"""

from __future__ import annotations

import copy
import keyword
import re
from typing import TYPE_CHECKING, Any

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as SPIFF_DMN_SCHEMAS

from . import expressions
from .bpmn_checks import expression_problem as _expression_problem
from .messages import N_, Message, text_of
from .problems import Problem, label_of, shown_text
from .problems import line_of as _line

if TYPE_CHECKING:
    from .definitions import SourceFile

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN13_DI = "https://www.omg.org/spec/DMN/20191111/DMNDI/"
# The model namespace of each DMN version.
DMN_VERSIONS = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    DMN13: "1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
# The diagram-interchange namespace of any version (1.2: .../20180521/DMNDI/, 1.3 and 1.4:
# .../20191111/DMNDI/, 1.5: .../20230324/DMNDI/).
_DMNDI = re.compile(r"^https?://www\.omg\.org/spec/DMN/\d{8}/DMNDI/$")
UNKNOWN_VERSION = Message(N_("onbekende DMN-versie (namespace); ondersteund zijn DMN 1.1 tot en "
                             "met 1.5 ({namespaces})"), namespaces=", ".join(DMN_VERSIONS))

# Hit policies the engine does not execute as written, and why (see the module docstring).
_REFUSED_POLICIES = {
    "PRIORITY": N_("de engine kiest de eerste passende regel, niet die met de hoogste prioriteit"),
    "RULE ORDER": N_("de engine geeft alleen de uitkomst van de eerste passende regel, geen lijst"),
    "OUTPUT ORDER": N_("de engine geeft alleen de uitkomst van de eerste passende regel, geen lijst"),
}
_KNOWN_POLICIES = ("UNIQUE", "FIRST", "ANY", "COLLECT", *_REFUSED_POLICIES)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


# --- versions and schemas -----------------------------------------------------------------------


def version_of(root) -> str | None:
    """The DMN version ("1.1" .. "1.5") of a parsed file, None when it is no DMN we know."""
    return DMN_VERSIONS.get(etree.QName(root).namespace or "")


def is_dmn(root) -> bool:
    """Whether a parsed file is a DMN file of a version we know."""
    return version_of(root) is not None


def schema_view(root) -> tuple[str, Any, str] | None:
    """How to validate a DMN file: (XSD path, element to validate, note for its messages), or
    None for an unknown version. DMN 1.1 and 1.3 use SpiffWorkflow's own schemas; 1.2, 1.4 and
    1.5 a copy moved into the DMN 1.3 namespaces (lines kept), since their decision tables are
    the same and no working schema of them is at hand."""
    namespace = etree.QName(root).namespace or ""
    version = DMN_VERSIONS.get(namespace)
    if version is None:
        return None
    if version in ("1.1", "1.3"):
        return SPIFF_DMN_SCHEMAS[namespace], root, ""
    view = copy.deepcopy(root)
    for node in view.iter(etree.Element):
        qname = etree.QName(node)
        if qname.namespace == namespace:
            node.tag = f"{{{DMN13}}}{qname.localname}"
        elif qname.namespace and _DMNDI.match(qname.namespace):
            node.tag = f"{{{DMN13_DI}}}{qname.localname}"
    return SPIFF_DMN_SCHEMAS[DMN13], view, Message(
        N_(" (DMN {version} gecontroleerd met het schema van DMN 1.3)"), version=version)


# --- what SpiffWorkflow gets ---------------------------------------------------------------------

_NEEDS_ID = ("decision", "decisionTable", "input", "output", "rule", "inputEntry", "outputEntry")
_TABLE_PARTS = ("input", "output", "rule")


def executable(root):
    """The copy of a lint-clean DMN file that SpiffWorkflow parses: every input cell spelled
    out as expressions.dmn_input_test reads it, the DMN namespace as the default one (the
    parser finds its elements through that), without comments and the table annotations
    the parser stumbles over, and with an id on every element the parser reads one from.
    Source lines are kept. Raises nothing; a cell that cannot be read stays as it was."""
    namespace = etree.QName(root).namespace
    view = copy.deepcopy(root)
    for junk in list(view.iter(etree.Comment, etree.ProcessingInstruction)):
        if junk.getparent() is not None:
            junk.getparent().remove(junk)
    if view.nsmap.get(None) != namespace:
        nsmap = {k: v for k, v in view.nsmap.items() if k is not None and v != namespace}
        rebuilt = etree.Element(view.tag, dict(view.attrib), nsmap={**nsmap, None: namespace})
        rebuilt.sourceline = view.sourceline  # type: ignore[misc]  # settable in lxml; types-lxml says read-only
        rebuilt.text = view.text
        rebuilt.extend(list(view))
        view = rebuilt
    ns = {"dmn": namespace}
    for table in view.iter(f"{{{namespace}}}decisionTable"):
        for child in list(table):
            if etree.QName(child).localname not in _TABLE_PARTS:
                table.remove(child)
    for number, node in enumerate(view.iter(*(f"{{{namespace}}}{t}" for t in _NEEDS_ID))):
        if not node.get("id"):
            node.set("id", f"meldcode_{etree.QName(node).localname}_{number}")
    for text in view.xpath("//dmn:inputEntry/dmn:text", namespaces=ns):
        try:
            test = expressions.dmn_input_test(text.text)
        except expressions.ExpressionError:
            continue
        text.text = "-" if test is None else test
    return view


def executable_roots(roots: dict) -> dict:
    """`roots` (file name -> parsed file) with every DMN file replaced by `executable`."""
    return {name: executable(root) if is_dmn(root) else root for name, root in roots.items()}


# --- per file ------------------------------------------------------------------------------------


def lint(source: SourceFile, root) -> list[Problem]:
    """Every problem of one schema-valid DMN file (`root` its definitions element) that the
    engine would stumble over or misread: a list of Problems, empty when the file is fine.
    Checks of one table against the rest of the set (domains, gaps, overlaps, the contract)
    are engine.dmn_coverage.check_set's. Never raises."""
    return lint_root(source.name, root)


def lint_root(name: str, root) -> list[Problem]:
    """As `lint`, for a file known by its name only (engine.dmn_coverage skips the tables of
    files that lint refuses)."""
    problems: list[Problem] = []
    ns = {"dmn": etree.QName(root).namespace}
    decisions = root.xpath("//dmn:decision", namespaces=ns)
    if not decisions:
        return [Problem(name, _line(root), N_("dit DMN-bestand bevat geen beslissing (decision)"))]
    for extra in decisions[1:]:
        problems.append(Problem(name, _line(extra), Message(N_(
            "tweede beslissing {decision} in één bestand: de engine leest er één per "
            "bestand; zet elke beslistabel in een eigen bestand"), decision=label_of(extra))))
    for decision in decisions[:1]:
        table = decision.find("dmn:decisionTable", namespaces=ns)
        if table is None:
            problems.append(Problem(name, _line(decision), Message(N_(
                "beslissing {decision} heeft geen beslistabel (decisionTable); "
                "alleen beslistabellen worden uitgevoerd"), decision=label_of(decision))))
            continue
        problems += _table_problems(name, decision, table, ns)
    return problems


def _table_problems(name: str, decision, table, ns) -> list[Problem]:
    problems: list[Problem] = []
    what = table_name(decision)

    def problem(node, template: str, **params) -> None:
        problems.append(Problem(name, _line(node), Message(template, what=what, **params)))

    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy in _REFUSED_POLICIES:
        problem(table, N_("{what}: hit policy {policy} wordt niet uitgevoerd zoals bedoeld: "
                          "{why}; gebruik UNIQUE of FIRST"), policy=policy,
                why=_REFUSED_POLICIES[policy])
    elif policy not in _KNOWN_POLICIES:
        problem(table, N_("{what}: onbekende hit policy {policy}"), policy=policy)
    elif table.get("aggregation"):
        problem(table, N_("{what}: hit policy {policy} met aggregatie {aggregation} wordt niet "
                          "uitgevoerd zoals bedoeld: de engine slaat de aggregatie over en geeft "
                          "een lijst"), policy=policy, aggregation=table.get("aggregation"))
    inputs = table.findall("dmn:input", namespaces=ns)
    outputs = table.findall("dmn:output", namespaces=ns)
    for node in inputs:
        text = node.find("dmn:inputExpression/dmn:text", namespaces=ns)
        if text is None or not (text.text or "").strip():
            problem(node, N_("{what}: invoerkolom {column} heeft geen expressie; de engine weet "
                             "dan niet welke gegevens deze kolom leest"), column=column_label(node))
        else:
            p = _expression_problem(name, text, text.text.strip(), Message(N_(
                "{what}: ongeldige expressie van invoerkolom {column}"), what=what,
                column=column_label(node)))
            if p:
                problems.append(p)
    seen: set[str] = set()
    for node in outputs:
        output = node.get("name") or ""
        if not _IDENTIFIER.match(output) or keyword.iskeyword(output) or \
                output in expressions.CONSTANTS:  # `false` would read as the constant
            problem(node, N_("{what}: uitvoerkolom {column} heeft geen geldige naam (name): de "
                             "uitkomst komt onder die naam in de zaak, waar de gateways haar "
                             "lezen; gebruik letters, cijfers en _"), column=column_label(node))
        elif output in seen:
            problem(node, N_("{what}: uitvoer '{output}' komt twee keer voor"), output=shown_text(output))
        seen.add(output)
    for number, rule in enumerate(table.findall("dmn:rule", namespaces=ns), 1):
        cells_in = rule.findall("dmn:inputEntry", namespaces=ns)
        cells_out = rule.findall("dmn:outputEntry", namespaces=ns)
        if len(cells_in) != len(inputs) or len(cells_out) != len(outputs):
            problem(rule, N_("{what}: rij {number} heeft {cells_in} invoer- en {cells_out} "
                             "uitvoercellen, de tabel {inputs} invoer- en {outputs} "
                             "uitvoerkolommen"), number=number, cells_in=len(cells_in),
                    cells_out=len(cells_out), inputs=len(inputs), outputs=len(outputs))
            continue
        for cell in cells_in:
            problems += _input_cell_problems(name, what, number, cell, ns)
        for cell in cells_out:
            text = cell.find("dmn:text", namespaces=ns)
            value = (text.text or "").strip() if text is not None else ""
            if not value:
                problem(cell, N_("{what}: lege uitvoercel in rij {number}: de engine maakt er een "
                                 "lege tekst van, geen ja of nee"), number=number)
                continue
            p = _expression_problem(name, text, value, Message(
                N_("{what}: ongeldige uitvoercel in rij {number}"), what=what, number=number))
            if p:
                problems.append(p)
    return problems


def _input_cell_problems(name: str, what: Message, number: int, cell, ns) -> list[Problem]:
    text = cell.find("dmn:text", namespaces=ns)
    raw = (text.text or "").strip() if text is not None else ""
    node = text if text is not None else cell
    try:
        test = expressions.dmn_input_test(raw)
    except expressions.ExpressionError as exc:
        return [Problem(name, _line(node), Message(N_(
            "{what}: ongeldige invoercel '{cell}' in rij {number}: {reason}"), what=what,
            cell=shown_text(raw), number=number, reason=text_of(exc)))]
    # SpiffWorkflow replaces a `?` outside quotes by the input; its quote scan can miss one.
    if test and "?" in test and expressions.DMN_PLACEHOLDER.sub("", test) != test:
        return [Problem(name, _line(node), Message(N_(
            "{what}: invoercel '{cell}' in rij {number}: een vraagteken in een tekst wordt door "
            "de engine als de invoer gelezen; laat het vraagteken weg"), what=what, cell=shown_text(raw),
            number=number))]
    return []


def table_name(decision) -> Message:
    """How a message names a decision table: 'beslistabel' and the decision's label."""
    return Message(N_("beslistabel {decision}"), decision=label_of(decision))


def text_line(cell, ns) -> int:
    """The line of a cell's text, where a modeler's XML view shows what it says."""
    text = cell.find("dmn:text", namespaces=ns)
    return _line(text if text is not None else cell)


def column_label(node) -> str:
    """How a message names an input or output column: its label, name or id, quoted."""
    label = " ".join((node.get("label") or node.get("name") or "").split())
    return f"'{label}'" if label else f"'{shown_text(node.get('id') or etree.QName(node).localname)}'"
