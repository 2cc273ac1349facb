"""A decision table as the set check (engine.dmn_coverage) reads it, and the values its
inputs can take in its file set.

`domain_of` gives the values of a variable a table reads: the outputs of another decision
that sets it, else the form field that fills it (ja/nee, the options of a keuzeveld, and for
numbers and texts samples around the values the cells compare with), else the table's own
inputValues or boolean type. `literal_problems` finds cells that compare with a value the input
can never hold, `unknown_names` bare words that no variable of the set answers to. Every
function returns values or Problems (FILE:LINE: message, in Dutch) and never raises.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.dmn.specs.model import DecisionTable

from . import expressions
from .dmn_lint import table_name, text_line
from .messages import N_, Message
from .problems import CAMUNDA_NS, Problem, joined
from .problems import line_of as _line

# More problems of one table than this are left unsaid: the first ones say what is wrong.
MAX_PROBLEMS_PER_TABLE = 5


@dataclass
class Domain:
    """The values a variable can hold when a table reads it; `kind` says where they come from."""

    values: list[Any]
    kind: str  # "boolean", "enum", "integer", "string", "decision", "inputValues"
    exact: bool = True  # False: sample values around the cells' literals


@dataclass
class Table:
    """One decision table of the set: where it is written, SpiffWorkflow's model of its
    executable copy (engine.dmn_lint.executable), and the business rule tasks that read it."""

    file: str
    decision: Any  # lxml element in the file as written (lines, labels)
    node: Any  # its decisionTable
    model: DecisionTable  # SpiffWorkflow's model of the executable copy
    rule_nodes: list[Any]
    policy: str
    references: list[tuple[str, Any, str]] = field(default_factory=list)  # (file, task, process)

    @property
    def what(self) -> Message:
        return table_name(self.decision)

    def rule_line(self, rule) -> int:
        return _line(self.rule_nodes[rule.row_number - 1])


def input_nodes(table: Table) -> list[Any]:
    """The table's input column elements, in order."""
    return table.node.findall("dmn:input", namespaces={"dmn": etree.QName(table.node).namespace})


def input_values(table: Table, position: int) -> list[Any] | None:
    """The literal values of an input's inputValues ("a","b" / true,false), None when absent
    or not a plain list of values."""
    ns = {"dmn": etree.QName(table.node).namespace}
    node = input_nodes(table)[position].find("dmn:inputValues/dmn:text", namespaces=ns)
    if node is None or not (node.text or "").strip():
        return None
    try:
        parts = expressions.split_unary_tests(node.text.strip())
        return [literal(part) for part in parts]
    except (expressions.ExpressionError, ValueError):
        return None


def literal(text: str) -> Any:
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


def cell_names(entry) -> set[str]:
    """The variables a cell (an input or output entry of SpiffWorkflow's model) reads."""
    text = entry.lhs[0] if hasattr(entry, "lhs") else entry.text
    if not text or text == "-":
        return set()
    try:
        return expressions.names_in(text) - {expressions.DMN_INPUT}
    except expressions.ExpressionError:
        return set()


def unknown_names(table: Table, known: set[str]) -> list[Problem]:
    """A bare word in a cell that is no variable: meant as text, read as a missing variable."""
    problems = []
    ns = {"dmn": etree.QName(table.node).namespace}
    for number, (rule, node) in enumerate(zip(table.model.rules, table.rule_nodes, strict=True), 1):
        cells = node.findall("dmn:inputEntry", namespaces=ns) + node.findall(
            "dmn:outputEntry", namespaces=ns)
        for entry, cell in zip([*rule.inputEntries, *rule.outputEntries], cells, strict=True):
            for word in sorted(cell_names(entry) - known):
                problems.append(Problem(table.file, text_line(cell, ns), Message(N_(
                    "{what}: rij {number} leest '{word}' als variabele, maar die bestaat niet "
                    "in de set; bedoelt u de tekst \"{word}\" (tussen aanhalingstekens)?"),
                    what=table.what, number=number, word=word)))
    return problems


def domain_of(var: str, table: Table, tables: list[Table], fields) -> Domain | None:
    """The values `var` can hold when `table` reads it: the outputs of another table of the set
    that sets it (not COLLECT), else the form field that fills it (`fields`: variable name ->
    camunda:formField elements; numbers and texts sampled around the cells' literals), else the
    table's inputValues or boolean typeRef for that input; None when nothing says."""
    for other in tables:
        if other is table or other.policy == "COLLECT":
            continue
        for position, output in enumerate(other.model.outputs):
            if output.name == var:
                values: list[Any] = []
                readable = True
                for rule in other.model.rules:
                    try:
                        value = literal(rule.outputEntries[position].text or "")
                    except (expressions.ExpressionError, ValueError):
                        readable = False
                        break
                    if value not in values:
                        values.append(value)
                if readable and values:
                    return Domain(values, "decision")
    for node in fields.get(var, []):
        kind = node.get("type")
        if kind == "boolean":
            return Domain([False, True], "boolean")
        if kind == "enum":
            options = [v.get("id") for v in node.findall(f"{{{CAMUNDA_NS}}}value") if v.get("id")]
            return Domain(options, "enum")
        if kind == "long":
            return Domain(_number_samples(var, table, node), "integer", exact=False)
        if kind == "string":
            return Domain(_text_samples(var, table), "string", exact=False)
    for position, item in enumerate(table.model.inputs):
        if (item.expression or "").strip() == var:
            listed = input_values(table, position)
            if listed:
                return Domain(listed, "inputValues")
            if (item.typeRef or "").split(":")[-1] == "boolean":
                return Domain([False, True], "boolean")
    return None


def _column_literals(var: str, table: Table) -> list[Any]:
    literals = []
    for position, item in enumerate(table.model.inputs):
        if (item.expression or "").strip() != var:
            continue
        for rule in table.model.rules:
            text = rule.inputEntries[position].lhs[0]
            if text and text != "-":
                literals += _constants(text)
    return literals


def _number_samples(var: str, table: Table, node) -> list[Any]:
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


def _text_samples(var: str, table: Table) -> list[Any]:
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


def literal_problems(table: Table, domains: dict[str, Domain]) -> list[Problem]:
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
                if value is None or any(same(value, v) for v in domain.values):
                    continue
                cell = node.findall("dmn:inputEntry", namespaces=ns)[position]
                raw = (cell.findtext("dmn:text", namespaces=ns) or "").strip()
                problems.append(Problem(table.file, text_line(cell, ns), Message(N_(
                    "{what}: invoercel '{cell}' in rij {number} vergelijkt '{var}' met {value}, "
                    "maar '{var}' is altijd een van {values}; deze cel past dus nooit"),
                    what=table.what, cell=raw, number=number, var=var, value=show(value),
                    values=joined(show(v) for v in domain.values))))
                break
    return problems[:MAX_PROBLEMS_PER_TABLE]


def same(a: Any, b: Any) -> bool:
    """Whether two values are equal as FEEL compares them (a number is never ja/nee)."""
    # True == 1 in Python, not in FEEL: a number never stands for ja/nee.
    return type(a) is type(b) and a == b or (
        isinstance(a, int | float) and isinstance(b, int | float)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def show(value: Any) -> str:
    """A value as a message shows it: ja, nee, leeg (Messages), a quoted text, a list (a
    Message of its values), a number."""
    if value is True:
        return N_("ja")
    if value is False:
        return N_("nee")
    if value is None:
        return N_("leeg")
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return Message("[{values}]", values=joined(show(v) for v in value))
    return str(value)
