"""Static checks of DMN decision tables: per file (`lint`) and per file set (`check_set`).

What SpiffWorkflow's DMN engine (SpiffWorkflow/dmn) does decides what we check:
- DMNEngine.decide() collects every matching rule, stopping at the first under UNIQUE;
  result() gives lists under COLLECT and otherwise the outputs of the first matching rule.
  So UNIQUE, FIRST and ANY run as written when rules that overlap agree (checked over every
  combination of input values), and COLLECT runs without an aggregation but gives lists, which
  no gateway condition reads as one value. PRIORITY, RULE ORDER, OUTPUT ORDER and an
  aggregation are not executed as written and are refused.
- A rule that matches no combination is harmless; a combination that no rule matches leaves
  the outputs unset and the case stalls at the next gateway: refused, naming the combination.
- Input cells are FEEL unary tests (`true,false` is "either"); the engine would glue cell and
  input into one Python comparison and misread them. `executable` hands SpiffWorkflow a copy
  in which every cell is spelled out by expressions.dmn_input_test, and these checks evaluate
  that same copy with the real DMNEngine.
- DMN 1.1 to 1.5 parse alike; SpiffWorkflow carries the schemas of 1.1 and 1.3 only (its 1.2
  schema does not load), so 1.2, 1.4 and 1.5 are validated as DMN 1.3 (`schema_view`).

Every check returns Problems (FILE:LINE: message, in Dutch) and never raises.
"""

from __future__ import annotations

import ast
import copy
import itertools
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as SPIFF_DMN_SCHEMAS
from SpiffWorkflow.dmn.parser.DMNParser import DMNParser
from SpiffWorkflow.dmn.specs.model import DecisionTable

from . import expressions
from .bpmn_checks import expression_problem as _expression_problem
from .problems import BPMN_NS, CAMUNDA_NS, NS, Problem, label_of
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
UNKNOWN_VERSION = ("onbekende DMN-versie (namespace); ondersteund zijn DMN 1.1 tot en met 1.5 ("
                   + ", ".join(DMN_VERSIONS) + ")")

# Hit policies the engine does not execute as written, and why (see the module docstring).
_REFUSED_POLICIES = {
    "PRIORITY": "de engine kiest de eerste passende regel, niet die met de hoogste prioriteit",
    "RULE ORDER": "de engine geeft alleen de uitkomst van de eerste passende regel, geen lijst",
    "OUTPUT ORDER": "de engine geeft alleen de uitkomst van de eerste passende regel, geen lijst",
}
_KNOWN_POLICIES = ("UNIQUE", "FIRST", "ANY", "COLLECT", *_REFUSED_POLICIES)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
# More combinations than this and the check says so instead of trying them all.
MAX_COMBINATIONS = 4096
MAX_PROBLEMS_PER_TABLE = 5

# CONTRACT section 1, rule 5: what the engine decides for process `meldcode`.
CONTRACT_PROCESS = "meldcode"
CONTRACT_INPUTS = ("acute_onveiligheid", "structurele_onveiligheid", "hulp_mogelijk",
                   "hulp_aanvaard")


def contract_outputs(values: dict[str, Any]) -> dict[str, bool]:
    """CONTRACT rule 5 over the four answers: besluit_melden and besluit_hulp."""
    acuut, structureel, mogelijk, aanvaard = (values[name] for name in CONTRACT_INPUTS)
    return {"besluit_melden": bool(acuut or structureel or not mogelijk or not aanvaard),
            "besluit_hulp": bool(mogelijk and aanvaard)}


# --- versions and schemas -----------------------------------------------------------------------


def version_of(root) -> str | None:
    """The DMN version ("1.1" .. "1.5") of a parsed file, None when it is no DMN we know."""
    return DMN_VERSIONS.get(etree.QName(root).namespace)


def is_dmn(root) -> bool:
    """Whether a parsed file is a DMN file of a version we know."""
    return version_of(root) is not None


def schema_view(root) -> tuple[str, Any, str] | None:
    """How to validate a DMN file: (XSD path, element to validate, note for its messages), or
    None for an unknown version. DMN 1.1 and 1.3 use SpiffWorkflow's own schemas; 1.2, 1.4 and
    1.5 a copy moved into the DMN 1.3 namespaces (lines kept), since their decision tables are
    the same and no working schema of them is at hand."""
    namespace = etree.QName(root).namespace
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
    return SPIFF_DMN_SCHEMAS[DMN13], view, f" (DMN {version} gecontroleerd met het schema van DMN 1.3)"


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
        rebuilt.sourceline = view.sourceline
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
    are check_set's. Never raises."""
    return _lint(source.name, root)


def _lint(name: str, root) -> list[Problem]:
    problems: list[Problem] = []
    ns = {"dmn": etree.QName(root).namespace}
    decisions = root.xpath("//dmn:decision", namespaces=ns)
    if not decisions:
        return [Problem(name, _line(root), "dit DMN-bestand bevat geen beslissing (decision)")]
    for extra in decisions[1:]:
        problems.append(Problem(name, _line(extra), (
            f"tweede beslissing {label_of(extra)} in één bestand: de engine leest er één per "
            "bestand; zet elke beslistabel in een eigen bestand")))
    for decision in decisions[:1]:
        table = decision.find("dmn:decisionTable", namespaces=ns)
        if table is None:
            problems.append(Problem(name, _line(decision), (
                f"beslissing {label_of(decision)} heeft geen beslistabel (decisionTable); "
                "alleen beslistabellen worden uitgevoerd")))
            continue
        problems += _table_problems(name, decision, table, ns)
    return problems


def _table_problems(name: str, decision, table, ns) -> list[Problem]:
    problems = []
    what = f"beslistabel {label_of(decision)}"
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy in _REFUSED_POLICIES:
        problems.append(Problem(name, _line(table), (
            f"{what}: hit policy {policy} wordt niet uitgevoerd zoals bedoeld: "
            f"{_REFUSED_POLICIES[policy]}; gebruik UNIQUE of FIRST")))
    elif policy not in _KNOWN_POLICIES:
        problems.append(Problem(name, _line(table), f"{what}: onbekende hit policy {policy}"))
    elif table.get("aggregation"):
        problems.append(Problem(name, _line(table), (
            f"{what}: hit policy {policy} met aggregatie {table.get('aggregation')} wordt niet "
            "uitgevoerd zoals bedoeld: de engine slaat de aggregatie over en geeft een lijst")))
    inputs = table.findall("dmn:input", namespaces=ns)
    outputs = table.findall("dmn:output", namespaces=ns)
    for node in inputs:
        text = node.find("dmn:inputExpression/dmn:text", namespaces=ns)
        if text is None or not (text.text or "").strip():
            problems.append(Problem(name, _line(node), (
                f"{what}: invoerkolom {_column(node)} heeft geen expressie; de engine weet dan "
                "niet welke gegevens deze kolom leest")))
        else:
            p = _expression_problem(name, text, text.text.strip(),
                                    f"{what}: ongeldige expressie van invoerkolom {_column(node)}")
            if p:
                problems.append(p)
    seen: set[str] = set()
    for node in outputs:
        output = node.get("name") or ""
        if not _IDENTIFIER.match(output) or keyword.iskeyword(output):
            problems.append(Problem(name, _line(node), (
                f"{what}: uitvoerkolom {_column(node)} heeft geen geldige naam (name): de "
                "uitkomst komt onder die naam in de zaak, waar de gateways haar lezen; gebruik "
                "letters, cijfers en _")))
        elif output in seen:
            problems.append(Problem(name, _line(node), f"{what}: uitvoer '{output}' komt twee keer voor"))
        seen.add(output)
    for number, rule in enumerate(table.findall("dmn:rule", namespaces=ns), 1):
        cells_in = rule.findall("dmn:inputEntry", namespaces=ns)
        cells_out = rule.findall("dmn:outputEntry", namespaces=ns)
        if len(cells_in) != len(inputs) or len(cells_out) != len(outputs):
            problems.append(Problem(name, _line(rule), (
                f"{what}: rij {number} heeft {len(cells_in)} invoer- en {len(cells_out)} "
                f"uitvoercellen, de tabel {len(inputs)} invoer- en {len(outputs)} uitvoerkolommen")))
            continue
        for cell in cells_in:
            problems += _input_cell_problems(name, what, number, cell, ns)
        for cell in cells_out:
            text = cell.find("dmn:text", namespaces=ns)
            value = (text.text or "").strip() if text is not None else ""
            if not value:
                problems.append(Problem(name, _line(cell), (
                    f"{what}: lege uitvoercel in rij {number}: de engine maakt er een lege tekst "
                    "van, geen ja of nee")))
                continue
            p = _expression_problem(name, text, value, f"{what}: ongeldige uitvoercel in rij {number}")
            if p:
                problems.append(p)
    return problems


def _input_cell_problems(name: str, what: str, number: int, cell, ns) -> list[Problem]:
    text = cell.find("dmn:text", namespaces=ns)
    raw = (text.text or "").strip() if text is not None else ""
    node = text if text is not None else cell
    try:
        test = expressions.dmn_input_test(raw)
    except expressions.ExpressionError as exc:
        return [Problem(name, _line(node), f"{what}: ongeldige invoercel '{raw}' in rij {number}: {exc}")]
    # SpiffWorkflow replaces a `?` outside quotes by the input; its quote scan can miss one.
    if test and "?" in test and expressions.DMN_PLACEHOLDER.sub("", test) != test:
        return [Problem(name, _line(node), (
            f"{what}: invoercel '{raw}' in rij {number}: een vraagteken in een tekst wordt door "
            "de engine als de invoer gelezen; laat het vraagteken weg"))]
    return []


def _text_line(cell, ns) -> int:
    """The line of a cell's text, where a modeler's XML view shows what it says."""
    text = cell.find("dmn:text", namespaces=ns)
    return _line(text if text is not None else cell)


def _column(node) -> str:
    label = " ".join((node.get("label") or node.get("name") or "").split())
    return f"'{label}'" if label else f"'{node.get('id') or etree.QName(node).localname}'"


# --- per set -------------------------------------------------------------------------------------


@dataclass
class _Domain:
    """The values a variable can hold when a table reads it; `kind` says where they come from."""

    values: list[Any]
    kind: str  # "boolean", "enum", "integer", "string", "decision", "inputValues"
    exact: bool = True  # False: sample values around the cells' literals


@dataclass
class _Table:
    file: str
    decision: Any  # lxml element in the file as written (lines, labels)
    node: Any  # its decisionTable
    model: DecisionTable  # SpiffWorkflow's model of the executable copy
    rule_nodes: list[Any]
    policy: str
    references: list[tuple[str, Any, str]] = field(default_factory=list)  # (file, task, process)

    @property
    def what(self) -> str:
        return f"beslistabel {label_of(self.decision)}"

    def rule_line(self, rule) -> int:
        return _line(self.rule_nodes[rule.row_number - 1])


def check_set(files: list[SourceFile], roots: dict) -> list[Problem]:
    """Problems of the set's decision tables over the values their inputs can really take
    (from the forms of the set's BPMN, other decisions' outputs and the table's inputValues):
    COLLECT where a business rule task reads it, a combination no rule matches, rules that
    overlap with different outputs under UNIQUE or ANY, cells that compare with a value the
    input never has, outputs of the wrong type, and for process `meldcode` outputs that differ
    from CONTRACT rule 5. `files` the set as given, `roots` file name -> parsed root of the
    files that passed XML and schema checks. Files with lint problems are skipped (lint
    reports them). Every table is evaluated with SpiffWorkflow's own DMNEngine and our
    evaluator, as the runtime does. Never raises."""
    try:
        return _check_set(files, roots)
    except Exception as exc:  # noqa: BLE001 - a check that fails is a verdict, never a crash
        return [Problem(files[0].name if files else "-", 1,
                        f"de beslistabellen kunnen niet worden gecontroleerd: {exc}")]


def _check_set(files: list[SourceFile], roots: dict) -> list[Problem]:
    order = {f.name: i for i, f in enumerate(files)}
    names = sorted(roots, key=lambda n: order.get(n, len(order)))
    bpmn = [(n, roots[n]) for n in names if etree.QName(roots[n]).namespace == BPMN_NS]
    tables: list[_Table] = []
    for name in names:
        root = roots[name]
        if is_dmn(root) and not _lint(name, root):
            table = _read_table(name, root)
            if table is not None:
                tables.append(table)
    if not tables:
        return []
    by_id = {t.decision.get("id"): t for t in tables}
    for name, root in bpmn:
        for task in root.xpath("//bpmn:businessRuleTask", namespaces=NS):
            found = by_id.get(task.get(f"{{{CAMUNDA_NS}}}decisionRef"))
            if found is not None:
                process = task.xpath("ancestor::bpmn:process[1]/@id", namespaces=NS)
                found.references.append((name, task, process[0] if process else ""))
    fields = _form_fields(bpmn)
    problems: list[Problem] = []
    for table in tables:
        try:
            problems += _check_table(table, tables, fields)
        except Exception as exc:  # noqa: BLE001 - a check that fails is a verdict, never a crash
            problems.append(Problem(table.file, _line(table.node),
                                    f"{table.what} kan niet worden gecontroleerd: {exc}"))
    problems += _contract_coverage(bpmn, tables)
    return problems


def _read_table(name: str, root) -> _Table | None:
    view = executable(root)
    namespace = etree.QName(root).namespace
    parser = DMNParser(None, view, {"dmn": namespace}, filename=name)
    try:
        parser.parse()
        model = parser.decision.decisionTables[0]
    except Exception:  # noqa: BLE001 - definitions' own SpiffWorkflow parse reports it
        return None
    ns = {"dmn": namespace}
    decision = root.xpath("//dmn:decision", namespaces=ns)[0]
    node = decision.find("dmn:decisionTable", namespaces=ns)
    return _Table(name, decision, node, model, node.findall("dmn:rule", namespaces=ns),
                  model.hit_policy)


def _form_fields(bpmn) -> dict[str, list[Any]]:
    """Variable name -> the camunda:formField elements of the set that fill it."""
    fields: dict[str, list[Any]] = {}
    for _name, root in bpmn:
        for node in root.xpath("//camunda:formField", namespaces=NS):
            if node.get("id"):
                fields.setdefault(node.get("id"), []).append(node)
    return fields


def _contract_coverage(bpmn, tables: list[_Table]) -> list[Problem]:
    """Process `meldcode` decides besluit_melden and besluit_hulp in a decision table."""
    problems = []
    for name, root in bpmn:
        tasks = root.xpath(f"//bpmn:process[@id='{CONTRACT_PROCESS}']//bpmn:businessRuleTask",
                           namespaces=NS)
        refs = {t.get(f"{{{CAMUNDA_NS}}}decisionRef") for t in tasks}
        decided = {o.name for t in tables if t.decision.get("id") in refs for o in t.model.outputs}
        known = {t.decision.get("id") for t in tables}
        if not tasks or not refs <= known:
            continue  # no decision here, or one that is missing (reported elsewhere)
        for output in ("besluit_melden", "besluit_hulp"):
            if output not in decided:
                problems.append(Problem(name, _line(tasks[0]), (
                    f"de beslistabel van {label_of(tasks[0])} bepaalt '{output}' niet; de "
                    "meldcode (regel 5) vraagt dat de engine besluit_melden en besluit_hulp "
                    "uitrekent")))
    return problems


def _check_table(table: _Table, tables: list[_Table], fields) -> list[Problem]:
    problems: list[Problem] = []
    model = table.model
    read_by_task = bool(table.references)
    if table.policy == "COLLECT" and read_by_task:
        file, task, _process = table.references[0]
        return [Problem(table.file, _line(table.node), (
            f"{table.what}: hit policy COLLECT geeft een lijst per uitvoer (bijvoorbeeld "
            f"{model.outputs[0].name if model.outputs else 'de uitkomst'} = [ja, nee]), maar "
            f"{label_of(task)} in {Path(file).name} geeft de uitkomst door aan gateways die één "
            "waarde lezen; gebruik UNIQUE of FIRST"))]
    contract = table.policy != "COLLECT" and any(
        process == CONTRACT_PROCESS for _f, _t, process in table.references) and any(
        o.name in ("besluit_melden", "besluit_hulp") for o in model.outputs)
    known = set(fields) | {o.name for t in tables for o in t.model.outputs if o.name}
    variables: list[str] = []
    for position, item in enumerate(model.inputs):
        for var in sorted(expressions.names_in(item.expression)):
            if var not in known and not _input_values(table, position):
                problems.append(Problem(table.file, _line(_input_nodes(table)[position]), (
                    f"{table.what}: invoerkolom {_column(_input_nodes(table)[position])} leest "
                    f"'{var}', maar geen formulierveld of beslissing in de set geeft '{var}' "
                    "een waarde; de tabel faalt dan bij elke zaak")))
            if var not in variables:
                variables.append(var)
    problems += _unknown_names(table, known)
    if problems:
        return problems
    for rule in model.rules:
        for entry in [*rule.inputEntries, *rule.outputEntries]:
            for var in _cell_names(entry):
                if var not in variables:
                    variables.append(var)
    if contract:
        variables += [v for v in CONTRACT_INPUTS if v not in variables]
    domains: dict[str, _Domain] = {}
    for var in variables:
        domain = _domain(var, table, tables, fields)
        if domain is None:
            return [Problem(table.file, _line(table.node), (
                f"{table.what} leest '{var}', waarvan de mogelijke waarden niet vastliggen (geen "
                "ja/nee-, keuze-, getal- of tekstveld, geen inputValues); de tabel kan zo niet "
                "op volledigheid worden gecontroleerd"))]
        domains[var] = domain
    problems += _literal_problems(table, domains)
    if problems:
        return problems
    total = 1
    for domain in domains.values():
        total *= max(len(domain.values), 1)
    if total > MAX_COMBINATIONS:
        return [Problem(table.file, _line(table.node), (
            f"{table.what} heeft {total} combinaties van invoerwaarden ("
            + ", ".join(f"{v}: {len(d.values)}" for v, d in domains.items())
            + f"), meer dan de {MAX_COMBINATIONS} die de controle nagaat; splits de tabel"))]
    return _enumerate(table, domains, contract)


def _input_nodes(table: _Table) -> list[Any]:
    return table.node.findall("dmn:input", namespaces={"dmn": etree.QName(table.node).namespace})


def _input_values(table: _Table, position: int) -> list[Any] | None:
    """The literal values of an input's inputValues ("a","b" / true,false), None when absent
    or not a plain list of values."""
    ns = {"dmn": etree.QName(table.node).namespace}
    node = _input_nodes(table)[position].find("dmn:inputValues/dmn:text", namespaces=ns)
    if node is None or not (node.text or "").strip():
        return None
    try:
        parts = expressions.split_unary_tests(node.text.strip())
        return [_literal(part) for part in parts]
    except (expressions.ExpressionError, ValueError):
        return None


def _literal(text: str) -> Any:
    """The value of a cell that is one literal (`true`, `"geen"`, `-3`); ValueError for any
    other text, ExpressionError for text the evaluator refuses."""
    body = expressions.compile_expression(text).body
    if not _is_literal(body):
        raise ValueError("geen losse waarde")
    return expressions.evaluate(text, {})


def _is_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in expressions.CONSTANTS
    return isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)


def _cell_names(entry) -> set[str]:
    text = entry.lhs[0] if hasattr(entry, "lhs") else entry.text
    if not text or text == "-":
        return set()
    try:
        return expressions.names_in(text) - {expressions.DMN_INPUT}
    except expressions.ExpressionError:
        return set()


def _unknown_names(table: _Table, known: set[str]) -> list[Problem]:
    """A bare word in a cell that is no variable: meant as text, read as a missing variable."""
    problems = []
    ns = {"dmn": etree.QName(table.node).namespace}
    for number, (rule, node) in enumerate(zip(table.model.rules, table.rule_nodes, strict=True), 1):
        cells = node.findall("dmn:inputEntry", namespaces=ns) + node.findall(
            "dmn:outputEntry", namespaces=ns)
        for entry, cell in zip([*rule.inputEntries, *rule.outputEntries], cells, strict=True):
            for word in sorted(_cell_names(entry) - known):
                problems.append(Problem(table.file, _text_line(cell, ns), (
                    f"{table.what}: rij {number} leest '{word}' als variabele, maar die bestaat "
                    f"niet in de set; bedoelt u de tekst \"{word}\" (tussen aanhalingstekens)?")))
    return problems


def _domain(var: str, table: _Table, tables: list[_Table], fields) -> _Domain | None:
    for other in tables:
        if other is table or other.policy == "COLLECT":
            continue
        for position, output in enumerate(other.model.outputs):
            if output.name == var:
                values = []
                for rule in other.model.rules:
                    try:
                        value = _literal(rule.outputEntries[position].text or "")
                    except (expressions.ExpressionError, ValueError):
                        values = None
                        break
                    if value not in values:
                        values.append(value)
                if values:
                    return _Domain(values, "decision")
    for node in fields.get(var, []):
        kind = node.get("type")
        if kind == "boolean":
            return _Domain([False, True], "boolean")
        if kind == "enum":
            options = [v.get("id") for v in node.findall(f"{{{CAMUNDA_NS}}}value") if v.get("id")]
            return _Domain(options, "enum")
        if kind == "long":
            return _Domain(_number_samples(var, table, node), "integer", exact=False)
        if kind == "string":
            return _Domain(_text_samples(var, table), "string", exact=False)
    for position, item in enumerate(table.model.inputs):
        if (item.expression or "").strip() == var:
            values = _input_values(table, position)
            if values:
                return _Domain(values, "inputValues")
            if (item.typeRef or "").split(":")[-1] == "boolean":
                return _Domain([False, True], "boolean")
    if var in CONTRACT_INPUTS:  # CONTRACT section 1: these are ja/nee answers
        return _Domain([False, True], "boolean")
    return None


def _column_literals(var: str, table: _Table) -> list[Any]:
    literals = []
    for position, item in enumerate(table.model.inputs):
        if (item.expression or "").strip() != var:
            continue
        for rule in table.model.rules:
            text = rule.inputEntries[position].lhs[0]
            if text and text != "-":
                literals += _constants(text)
    return literals


def _number_samples(var: str, table: _Table, node) -> list[Any]:
    """Integers on both sides of every number the cells compare with: a comparison with a
    number changes its answer only there."""
    bounds = {c.get("name"): c.get("config") for c in node.iter(f"{{{CAMUNDA_NS}}}constraint")}
    numbers = [n for n in _column_literals(var, table)
               if isinstance(n, int | float) and not isinstance(n, bool)]
    samples = sorted({int(n) + d for n in numbers for d in (-1, 0, 1)} or {0})
    low, high = bounds.get("min"), bounds.get("max")
    try:
        samples = [s for s in samples if (low is None or s >= int(low)) and (
            high is None or s <= int(high))] or [int(low or high or 0)]
    except ValueError:
        pass
    return samples


def _text_samples(var: str, table: _Table) -> list[Any]:
    """The texts the cells compare with, and one text that is none of them."""
    texts = [t for t in _column_literals(var, table) if isinstance(t, str)]
    other = "andere tekst"
    while other in texts:
        other += "."
    return [*dict.fromkeys(texts), other]


def _constants(test: str) -> list[Any]:
    try:
        tree = expressions.compile_expression(test)
    except expressions.ExpressionError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            found.append(node.value)
        elif isinstance(node, ast.Name) and node.id in expressions.CONSTANTS:
            found.append(expressions.CONSTANTS[node.id])
    return found


def _literal_problems(table: _Table, domains: dict[str, _Domain]) -> list[Problem]:
    """A cell value the input can never hold: "true" (text) for a ja/nee field, an option
    that the enum does not have, true for a number. Such a cell never matches."""
    problems = []
    ns = {"dmn": etree.QName(table.node).namespace}
    for position, item in enumerate(table.model.inputs):
        var = (item.expression or "").strip()
        domain = domains.get(var)
        if domain is None or not domain.exact:
            continue
        for number, (rule, node) in enumerate(
                zip(table.model.rules, table.rule_nodes, strict=True), 1):
            text = rule.inputEntries[position].lhs[0]
            if not text or text == "-":
                continue
            for value in _constants(text):
                if value is None or any(_same(value, v) for v in domain.values):
                    continue
                cell = node.findall("dmn:inputEntry", namespaces=ns)[position]
                raw = (cell.findtext("dmn:text", namespaces=ns) or "").strip()
                problems.append(Problem(table.file, _text_line(cell, ns), (
                    f"{table.what}: invoercel '{raw}' in rij {number} vergelijkt '{var}' met "
                    f"{_show(value)}, maar '{var}' is altijd een van "
                    + ", ".join(_show(v) for v in domain.values)
                    + "; deze cel past dus nooit")))
                break
    return problems[:MAX_PROBLEMS_PER_TABLE]


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python, not in FEEL: a number never stands for ja/nee.
    return type(a) is type(b) and a == b or (
        isinstance(a, int | float) and isinstance(b, int | float)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


class _DecisionTask:
    """What SpiffWorkflow's DMNEngine reads of a task while deciding: the case data, the
    workflow's script engine (ours, as at run time), and the names its errors quote. Lets the
    check run the real DMNEngine over a combination without building a workflow."""

    def __init__(self, data: dict[str, Any], table: _Table):
        self.data = data
        self.task_spec = SimpleNamespace(bpmn_id=table.decision.get("id"),
                                         bpmn_name=table.decision.get("name"))
        self.workflow = SimpleNamespace(script_engine=expressions.SCRIPT_ENGINE,
                                        spec=SimpleNamespace(file=table.file),
                                        parent_workflow=None)
        self.workflow.top_workflow = self.workflow


def _reason(exc: BaseException) -> str:
    """The Dutch reason in an engine error: our evaluator's message where there is one."""
    seen = exc
    while seen is not None:
        if isinstance(seen, expressions.ExpressionError):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _enumerate(table: _Table, domains: dict[str, _Domain], contract: bool) -> list[Problem]:
    model = table.model
    engine = DMNEngine(model)
    singles = []
    for rule in model.rules:
        single = DecisionTable(model.id, model.name, "FIRST")
        single.inputs, single.outputs, single.rules = model.inputs, model.outputs, [rule]
        singles.append((rule, DMNEngine(single)))
    names = list(domains)
    gaps: list[dict[str, Any]] = []
    problems: list[Problem] = []
    overlaps: set[tuple[int, int]] = set()
    wrong_type: set[str] = set()
    contract_reported = False
    for values in itertools.product(*(domains[n].values for n in names)):
        combo = dict(zip(names, values, strict=True))
        task = _DecisionTask(dict(combo), table)
        matched = []
        for rule, single in singles:
            try:
                if single.decide(task):
                    matched.append(rule)
            except Exception as exc:  # noqa: BLE001 - the engine fails here at run time too
                return [Problem(table.file, table.rule_line(rule), (
                    f"{table.what}: rij {rule.row_number} kan niet worden uitgerekend bij "
                    f"{_combo(combo)}: {_reason(exc)}"))]
        if not matched:
            gaps.append(combo)
            continue
        try:
            outputs = [rule.output_as_dict(task) for rule in matched]
            result = engine.result(task)
        except Exception as exc:  # noqa: BLE001
            return [Problem(table.file, table.rule_line(matched[0]), (
                f"{table.what}: de uitkomst van rij {matched[0].row_number} kan niet worden "
                f"uitgerekend bij {_combo(combo)}: {_reason(exc)}"))]
        if table.policy in ("UNIQUE", "ANY"):
            for other, out in zip(matched[1:], outputs[1:], strict=True):
                pair = (matched[0].row_number, other.row_number)
                if out != outputs[0] and pair not in overlaps:
                    overlaps.add(pair)
                    problems.append(Problem(table.file, table.rule_line(other), (
                        f"{table.what}: rij {pair[0]} (regel {table.rule_line(matched[0])}) en "
                        f"rij {pair[1]} (regel {table.rule_line(other)}) passen allebei bij "
                        f"{_combo(combo)}, met verschillende uitkomsten ({_outputs(outputs[0])} "
                        f"tegenover {_outputs(out)}); onder hit policy {table.policy} mag dat "
                        "niet, en de engine neemt stilzwijgend de eerste")))
        if table.policy == "COLLECT":
            continue
        for output in model.outputs:
            problem = _type_problem(table, output, result.get(output.name), matched[0], combo)
            if problem and output.name not in wrong_type:
                wrong_type.add(output.name)
                problems.append(problem)
        if contract and not contract_reported:
            expected = contract_outputs(combo)
            actual = {k: result.get(k) for k in expected if any(o.name == k for o in model.outputs)}
            if any(not _same(v, expected[k]) for k, v in actual.items()):
                contract_reported = True
                problems.append(Problem(table.file, table.rule_line(matched[0]), (
                    f"{table.what}: bij {_combo({k: combo[k] for k in CONTRACT_INPUTS})} geeft rij "
                    f"{matched[0].row_number} {_outputs(actual)}, maar de meldcode (regel 5) "
                    f"vraagt {_outputs({k: expected[k] for k in actual})}")))
    if gaps:
        more = f" (en nog {len(gaps) - 1} combinaties zonder regel)" if len(gaps) > 1 else ""
        exact = all(d.exact for d in domains.values())
        problems.insert(0, Problem(table.file, _line(table.node), (
            f"{table.what} heeft geen regel voor {_combo(gaps[0])}{more}: een zaak met "
            "deze antwoorden krijgt geen uitkomst en loopt vast"
            + ("" if exact else " (getallen en teksten zijn rond de waarden in de cellen geprobeerd)"))))
    return problems[:MAX_PROBLEMS_PER_TABLE]


_TYPES = {"boolean": (bool,), "string": (str,), "number": (int, float), "integer": (int,),
          "long": (int,), "double": (int, float)}


def _type_problem(table: _Table, output, value, rule, combo) -> Problem | None:
    kind = (output.typeRef or "").split(":")[-1]
    types = _TYPES.get(kind)
    if not types or value is None:
        return None
    if isinstance(value, types) and (kind == "boolean" or not isinstance(value, bool)):
        return None
    return Problem(table.file, table.rule_line(rule), (
        f"{table.what}: rij {rule.row_number} geeft '{output.name}' de waarde {_show(value)} "
        f"bij {_combo(combo)}, maar de kolom is van het type {kind}"))


def _show(value: Any) -> str:
    if value is True:
        return "ja"
    if value is False:
        return "nee"
    if value is None:
        return "leeg"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _combo(combo: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in combo.items()) or "elke invoer"


def _outputs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in values.items())
