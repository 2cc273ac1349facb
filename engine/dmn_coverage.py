"""The decision tables of a file set against its forms (`check_set`): every combination of
the values their inputs can take, run through SpiffWorkflow's own DMNEngine.

What the engine does decides what we refuse (see engine.dmn_lint for the hit policies):
- A rule that matches no combination is harmless; a combination that no rule matches leaves
  the outputs unset and the case stalls at the next gateway: refused, naming the combination.
- Under UNIQUE and ANY the engine silently takes the first of rules that overlap; they must
  agree on every combination where they both match.
- COLLECT gives lists, which no gateway condition reads as one value: refused where a business
  rule task reads the table.
- Process `meldcode` decides besluit_melden and besluit_hulp as CONTRACT rule 5 says
  (`contract_outputs`), over every combination of the four answers.

The values of the inputs are engine.dmn_domains'. Every check returns Problems (FILE:LINE:
message, in Dutch) and never raises.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.DMNParser import DMNParser
from SpiffWorkflow.dmn.specs.model import DecisionTable

from . import expressions
from .dmn_domains import (
    MAX_PROBLEMS_PER_TABLE,
    Domain,
    Table,
    cell_names,
    domain_of,
    input_nodes,
    input_values,
    literal_problems,
    same,
    show,
    unknown_names,
)
from .dmn_lint import column_label, executable, is_dmn, lint_root
from .failures import kind_of
from .messages import N_, Message, text_of
from .problems import BPMN_NS, CAMUNDA_NS, NS, Problem, joined, label_of
from .problems import line_of as _line

if TYPE_CHECKING:
    from .definitions import SourceFile

# More combinations than this and the check says so instead of trying them all.
MAX_COMBINATIONS = 4096

# CONTRACT section 1, rule 5: what the engine decides for process `meldcode`.
CONTRACT_PROCESS = "meldcode"
CONTRACT_INPUTS = ("acute_onveiligheid", "structurele_onveiligheid", "hulp_mogelijk",
                   "hulp_aanvaard")


def contract_outputs(values: dict[str, Any]) -> dict[str, bool]:
    """CONTRACT rule 5 over the four answers: besluit_melden and besluit_hulp."""
    acuut, structureel, mogelijk, aanvaard = (values[name] for name in CONTRACT_INPUTS)
    return {"besluit_melden": bool(acuut or structureel or not mogelijk or not aanvaard),
            "besluit_hulp": bool(mogelijk and aanvaard)}


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
        return [Problem(files[0].name if files else "-", 1, Message(
            N_("de beslistabellen kunnen niet worden gecontroleerd: {reason}"),
            reason=kind_of(exc)))]


def _check_set(files: list[SourceFile], roots: dict) -> list[Problem]:
    order = {f.name: i for i, f in enumerate(files)}
    names = sorted(roots, key=lambda n: order.get(n, len(order)))
    bpmn = [(n, roots[n]) for n in names if etree.QName(roots[n]).namespace == BPMN_NS]
    tables: list[Table] = []
    for name in names:
        root = roots[name]
        if is_dmn(root) and not lint_root(name, root):
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
            problems.append(Problem(table.file, _line(table.node), Message(
                N_("{what} kan niet worden gecontroleerd: {reason}"), what=table.what,
                reason=kind_of(exc))))
    problems += _contract_coverage(bpmn, tables)
    return problems


def _read_table(name: str, root) -> Table | None:
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
    return Table(name, decision, node, model, node.findall("dmn:rule", namespaces=ns),
                  model.hit_policy)


def _form_fields(bpmn) -> dict[str, list[Any]]:
    """Variable name -> the camunda:formField elements of the set that fill it."""
    fields: dict[str, list[Any]] = {}
    for _name, root in bpmn:
        for node in root.xpath("//camunda:formField", namespaces=NS):
            if node.get("id"):
                fields.setdefault(node.get("id"), []).append(node)
    return fields


def _contract_coverage(bpmn, tables: list[Table]) -> list[Problem]:
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
                problems.append(Problem(name, _line(tasks[0]), Message(N_(
                    "de beslistabel van {task} bepaalt '{output}' niet; de meldcode (regel 5) "
                    "vraagt dat de engine besluit_melden en besluit_hulp uitrekent"),
                    task=label_of(tasks[0]), output=output)))
    return problems


def _check_table(table: Table, tables: list[Table], fields) -> list[Problem]:
    problems: list[Problem] = []
    model = table.model
    read_by_task = bool(table.references)
    if table.policy == "COLLECT" and read_by_task:
        file, task, _process = table.references[0]
        return [Problem(table.file, _line(table.node), Message(N_(
            "{what}: hit policy COLLECT geeft een lijst per uitvoer (bijvoorbeeld {output} = "
            "[ja, nee]), maar {task} in {file} geeft de uitkomst door aan gateways die één "
            "waarde lezen; gebruik UNIQUE of FIRST"), what=table.what,
            output=model.outputs[0].name if model.outputs else N_("de uitkomst"),
            task=label_of(task), file=Path(file).name))]
    contract = table.policy != "COLLECT" and any(
        process == CONTRACT_PROCESS for _f, _t, process in table.references) and any(
        o.name in ("besluit_melden", "besluit_hulp") for o in model.outputs)
    known = set(fields) | {o.name for t in tables for o in t.model.outputs if o.name}
    variables: list[str] = []
    for position, item in enumerate(model.inputs):
        for var in sorted(expressions.names_in(item.expression)):
            if var not in known and not input_values(table, position):
                problems.append(Problem(table.file, _line(input_nodes(table)[position]), Message(N_(
                    "{what}: invoerkolom {column} leest '{var}', maar geen formulierveld of "
                    "beslissing in de set geeft '{var}' een waarde; de tabel faalt dan bij elke "
                    "zaak"), what=table.what, column=column_label(input_nodes(table)[position]),
                    var=var)))
            if var not in variables:
                variables.append(var)
    problems += unknown_names(table, known)
    if problems:
        return problems
    for rule in model.rules:
        for entry in [*rule.inputEntries, *rule.outputEntries]:
            for var in cell_names(entry):
                if var not in variables:
                    variables.append(var)
    if contract:
        variables += [v for v in CONTRACT_INPUTS if v not in variables]
    domains: dict[str, Domain] = {}
    for var in variables:
        domain = domain_of(var, table, tables, fields)
        if domain is None and var in CONTRACT_INPUTS:  # CONTRACT section 1: ja/nee answers
            domain = Domain([False, True], "boolean")
        if domain is None:
            return [Problem(table.file, _line(table.node), Message(N_(
                "{what} leest '{var}', waarvan de mogelijke waarden niet vastliggen (geen "
                "ja/nee-, keuze-, getal- of tekstveld, geen inputValues); de tabel kan zo niet "
                "op volledigheid worden gecontroleerd"), what=table.what, var=var))]
        domains[var] = domain
    problems += literal_problems(table, domains)
    if problems:
        return problems
    total = 1
    for domain in domains.values():
        total *= max(len(domain.values), 1)
    if total > MAX_COMBINATIONS:
        return [Problem(table.file, _line(table.node), Message(N_(
            "{what} heeft {total} combinaties van invoerwaarden ({counts}), meer dan de {limit} "
            "die de controle nagaat; splits de tabel"), what=table.what, total=total,
            counts=", ".join(f"{v}: {len(d.values)}" for v, d in domains.items()),
            limit=MAX_COMBINATIONS))]
    return _enumerate(table, domains, contract)


class _DecisionTask:
    """What SpiffWorkflow's DMNEngine reads of a task while deciding: the case data, the
    workflow's script engine (ours, as at run time), and the names its errors quote. Lets the
    check run the real DMNEngine over a combination without building a workflow."""

    def __init__(self, data: dict[str, Any], table: Table):
        self.data = data
        self.task_spec = SimpleNamespace(bpmn_id=table.decision.get("id"),
                                         bpmn_name=table.decision.get("name"))
        self.workflow = SimpleNamespace(script_engine=expressions.SCRIPT_ENGINE,
                                        spec=SimpleNamespace(file=table.file),
                                        parent_workflow=None)
        self.workflow.top_workflow = self.workflow


def _reason(exc: BaseException) -> str:
    """The Dutch reason in an engine error: our evaluator's message (a Message) where there is
    one, else the library's first line."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, expressions.ExpressionError):
            return text_of(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _enumerate(table: Table, domains: dict[str, Domain], contract: bool) -> list[Problem]:
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
                return [Problem(table.file, table.rule_line(rule), Message(N_(
                    "{what}: rij {number} kan niet worden uitgerekend bij {combination}: "
                    "{reason}"), what=table.what, number=rule.row_number,
                    combination=_combo(combo), reason=_reason(exc)))]
        if not matched:
            gaps.append(combo)
            continue
        try:
            outputs = [rule.output_as_dict(task) for rule in matched]
            result = engine.result(task)
        except Exception as exc:  # noqa: BLE001
            return [Problem(table.file, table.rule_line(matched[0]), Message(N_(
                "{what}: de uitkomst van rij {number} kan niet worden uitgerekend bij "
                "{combination}: {reason}"), what=table.what, number=matched[0].row_number,
                combination=_combo(combo), reason=_reason(exc)))]
        if table.policy in ("UNIQUE", "ANY"):
            for other, out in zip(matched[1:], outputs[1:], strict=True):
                pair = (matched[0].row_number, other.row_number)
                if out != outputs[0] and pair not in overlaps:
                    overlaps.add(pair)
                    problems.append(Problem(table.file, table.rule_line(other), Message(N_(
                        "{what}: rij {first} (regel {first_line}) en rij {second} (regel "
                        "{second_line}) passen allebei bij {combination}, met verschillende "
                        "uitkomsten ({first_outputs} tegenover {second_outputs}); onder hit "
                        "policy {policy} mag dat niet, en de engine neemt stilzwijgend de "
                        "eerste"), what=table.what, first=pair[0],
                        first_line=table.rule_line(matched[0]), second=pair[1],
                        second_line=table.rule_line(other), combination=_combo(combo),
                        first_outputs=_outputs(outputs[0]), second_outputs=_outputs(out),
                        policy=table.policy)))
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
            if any(not same(v, expected[k]) for k, v in actual.items()):
                contract_reported = True
                problems.append(Problem(table.file, table.rule_line(matched[0]), Message(N_(
                    "{what}: bij {combination} geeft rij {number} {outputs}, maar de meldcode "
                    "(regel 5) vraagt {expected}"), what=table.what,
                    combination=_combo({k: combo[k] for k in CONTRACT_INPUTS}),
                    number=matched[0].row_number, outputs=_outputs(actual),
                    expected=_outputs({k: expected[k] for k in actual}))))
    if gaps:
        more = Message(N_(" (en nog {count} combinaties zonder regel)"), count=len(gaps) - 1) \
            if len(gaps) > 1 else ""
        exact = all(d.exact for d in domains.values())
        problems.insert(0, Problem(table.file, _line(table.node), Message(N_(
            "{what} heeft geen regel voor {combination}{more}: een zaak met deze antwoorden "
            "krijgt geen uitkomst en loopt vast{sampled}"), what=table.what,
            combination=_combo(gaps[0]), more=more, sampled="" if exact else N_(
                " (getallen en teksten zijn rond de waarden in de cellen geprobeerd)"))))
    return problems[:MAX_PROBLEMS_PER_TABLE]


_TYPES = {"boolean": (bool,), "string": (str,), "number": (int, float), "integer": (int,),
          "long": (int,), "double": (int, float)}


def _type_problem(table: Table, output, value, rule, combo) -> Problem | None:
    kind = (output.typeRef or "").split(":")[-1]
    types = _TYPES.get(kind)
    if not types or value is None:
        return None
    if isinstance(value, types) and (kind == "boolean" or not isinstance(value, bool)):
        return None
    return Problem(table.file, table.rule_line(rule), Message(N_(
        "{what}: rij {number} geeft '{output}' de waarde {value} bij {combination}, maar de "
        "kolom is van het type {kind}"), what=table.what, number=rule.row_number,
        output=output.name, value=show(value), combination=_combo(combo), kind=kind))


def _combo(combo: dict[str, Any]) -> str:
    return _outputs(combo) or N_("elke invoer")


def _outputs(values: dict[str, Any]) -> str:
    return joined(Message("{name}={value}", name=k, value=show(v)) for k, v in values.items())
