"""Process definitions: load, validate as a deploy would, and version BPMN/DMN file sets.

Validation runs in layers, each reported as FILE:LINE: message: well-formed XML (hardened
parser, no DTDs) and the BPMN/DMN XSD (engine.definition_xml), our own lint (the things
SpiffWorkflow accepts but we must refuse), and finally SpiffWorkflow's own parse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaIntermediateCatchEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import EnumFormField, Form, FormField, UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import bpmn_checks, condition_checks, dmn_coverage, dmn_lint
from .definition_xml import XML_PARSER_OPTIONS, parse_xml, xsd_problems
from .failures import kind_of
from .messages import N_, Message
from .problems import BPMN_NS as BPMN_NS  # read here by pages, versions and the tests
from .problems import CAMUNDA_NS, NS, Problem
from .problems import line_of as _line
from .timers import TimerEventParserMixin
from .xml_findings import spiff_line, spiff_reason

PROCESS_ID = "meldcode"
# CONTRACT section 1: these user tasks must exist in the shipped process.
CONTRACT_STEPS = (
    "stap1_signalen",
    "stap2_overleg",
    "stap3_gesprek",
    "stap4_wegen",
    "stap5_beslissen",
    "melding_voorbespreken",
    "melding_doen",
    "hulp_organiseren",
    "hulp_evalueren",
)


@dataclass(frozen=True)
class SourceFile:
    name: str
    content: bytes

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def kind(self) -> str:
        return "dmn" if self.name.lower().endswith(".dmn") else "bpmn"


def set_sha256(files: list[SourceFile]) -> str:
    """The identity of a file set: its contents, whatever the files are called."""
    joined = "\n".join(sorted(f.sha256 for f in files))
    return hashlib.sha256(joined.encode()).hexdigest()


class InvalidDefinition(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# --- SpiffWorkflow parse ---------------------------------------------------------------------


class _FormUserTaskParser(UserTaskParser):
    """Reads camunda:formData also without camunda:formKey, as Camunda Modeler writes it."""

    def get_form(self):
        form = Form()
        form.key = self.node.get(f"{{{CAMUNDA_NS}}}formKey") or ""
        for xml_field in self.xpath(".//camunda:formData/camunda:formField"):
            # an enum, and a multi field (several options at once), carry camunda:value options
            field = EnumFormField() if xml_field.get("type") in ("enum", "multi") else FormField()
            if isinstance(field, EnumFormField):
                for child in xml_field.findall(f"{{{CAMUNDA_NS}}}value"):
                    field.add_option(child.get("id"), child.get("name"))
            field.id = xml_field.get("id")
            field.type = xml_field.get("type")
            field.label = xml_field.get("label")
            field.default_value = xml_field.get("defaultValue")
            for prop in xml_field.findall(f"{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property"):
                field.add_property(prop.get("id"), prop.get("value"))
            for rule in xml_field.findall(
                f"{{{CAMUNDA_NS}}}validation/{{{CAMUNDA_NS}}}constraint"
            ):
                field.add_validation(rule.get("name"), rule.get("config"))
            form.add_field(field)
        return form


# Timers (engine/timers.py): the catch and boundary event parsers make our timer classes, which
# fire only when the scheduler or driving says so, never on SpiffWorkflow's wall clock.
class _TimerCatchParser(TimerEventParserMixin, CamundaIntermediateCatchEventParser):
    pass


class _TimerBoundaryParser(TimerEventParserMixin, CamundaBoundaryEventParser):
    pass


class MeldcodeParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_FormUserTaskParser, UserTask),
        full_tag("intermediateCatchEvent"): (_TimerCatchParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_TimerBoundaryParser, BoundaryEvent),
    }


@dataclass
class Step:
    """What the product needs to know of one user task."""

    id: str
    name: str
    lane: str
    documentation: str
    fields: list  # list[forms.Field]


@dataclass
class ProcessDefinition:
    sha256: str
    files: list[SourceFile]
    spec: BpmnProcessSpec
    subprocess_specs: dict
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def bpmn_xml(self) -> str:
        return next(f for f in self.files if f.kind == "bpmn").content.decode("utf-8")


def _spiff_parse(files: list[SourceFile], roots: dict) -> tuple[BpmnProcessSpec, dict]:
    parser = MeldcodeParser()
    for source in files:
        if source.kind == "dmn":
            parser.add_dmn_xml(roots[source.name], filename=source.name)
        else:
            parser.add_bpmn_xml(roots[source.name].getroottree(), filename=source.name)
    spec = parser.get_spec(PROCESS_ID)
    subprocess_specs = parser.get_subprocess_specs(PROCESS_ID)
    return spec, subprocess_specs


def _spiff_problem(exc: Exception, files: list[SourceFile]) -> Problem:
    """SpiffWorkflow's refusal as a Problem in our words (engine.xml_findings.spiff_reason),
    on the line of the element it is about."""
    file_name = Path(getattr(exc, "file_name", "") or files[0].name).name
    source = next((f for f in files if f.name == file_name), files[0])
    line = spiff_line(exc, source.content, XML_PARSER_OPTIONS)
    return Problem(file_name, line, spiff_reason(exc))


def _build(files: list[SourceFile], roots: dict) -> ProcessDefinition | Problem:
    """SpiffWorkflow's parse of a read file set, and the steps the product needs of it; the
    problem instead when SpiffWorkflow refuses the set."""
    try:
        # SpiffWorkflow gets the DMN cells spelled out as our evaluator reads FEEL.
        spec, subprocess_specs = _spiff_parse(files, dmn_lint.executable_roots(roots))
    except (ValidationException, SpiffWorkflowException) as exc:
        return _spiff_problem(exc, files)
    except RecursionError:
        return Problem(files[0].name, 1, N_("het diagram is te diep genest of heeft een te "
                                            "lange keten van elementen om te verwerken"))
    except Exception as exc:  # noqa: BLE001 - any parser failure is a verdict, never a crash
        return Problem(files[0].name, 1, Message(N_("kan niet worden verwerkt: {reason}"),
                                                 reason=kind_of(exc)))
    definition = ProcessDefinition(set_sha256(files), files, spec, subprocess_specs)
    from .forms import fields_of  # forms depends on definitions' parsed specs

    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, UserTask):
            definition.steps[task_spec.bpmn_id] = Step(
                id=task_spec.bpmn_id,
                name=task_spec.bpmn_name or task_spec.bpmn_id,
                lane=(task_spec.lane or "medewerker").strip().lower(),
                documentation=(task_spec.documentation or "").strip(),
                fields=fields_of(task_spec),
            )
    return definition


def parse_stored(files: list[SourceFile]) -> ProcessDefinition:
    """The definition of a stored version: parsed only, without the checks of a deploy.

    A version passed the checks of its day when it was deployed; a later, stricter check must
    not stop its cases from being opened, completed, moved or replayed. In: the version's files.
    Out: the parsed definition. Raises InvalidDefinition when the XML or SpiffWorkflow's parse
    fails (a stored version that was tampered with)."""
    roots, problems, read = {}, [], []
    for source in files:
        root, parse_problems = parse_xml(source)
        problems.extend(parse_problems)
        if root is not None:
            if source.kind != "dmn" and dmn_lint.is_dmn(root):
                source = SourceFile(source.name + ".dmn", source.content)  # noqa: PLW2901
            roots[source.name] = root
            read.append(source)
    if problems:
        raise InvalidDefinition(problems)
    definition = _build(read, roots)
    if isinstance(definition, Problem):
        raise InvalidDefinition([definition])
    return definition


def check(files: list[SourceFile], prove: bool = True) -> tuple[ProcessDefinition | None, list[Problem]]:
    """Validate a file set as a deploy would: the definition when it is deployable (else None),
    and the problems (FILE:LINE: message, proof problems with a witness route). `prove`: also
    run the proof of every route (engine.proof). Never raises for a fault in the files.

    Verdicts are kept per process by file names and contents, so a deploy that checks a set
    already checked outside its write transaction does not hold the write lock for the proof."""
    from .forms import today

    # the proof answers a date field with today: its verdict holds for the day (proof_cache)
    key = (tuple((f.name, f.sha256) for f in files), today() if prove else None)
    with _checked_lock:
        known = _checked.get(key)
    if known is not None:
        return known[0], list(known[1])
    verdict = _check(files, prove)
    with _checked_lock:
        _checked[key] = (verdict[0], tuple(verdict[1]))
        while len(_checked) > 32:
            _checked.pop(next(iter(_checked)))
    return verdict


_checked: dict[tuple, tuple[ProcessDefinition | None, tuple[Problem, ...]]] = {}
_checked_lock = threading.Lock()


def _check(files: list[SourceFile], prove: bool) -> tuple[ProcessDefinition | None, list[Problem]]:
    if not files:
        return None, [Problem("-", 1, N_("geen bestanden"))]
    problems: list[Problem] = []
    roots = {}
    names = [f.name for f in files]
    given = files
    files = []  # as checked: a DMN file under another name is read as DMN from here on
    for source in given:
        if names.count(source.name) > 1:
            problems.append(Problem(source.name, 1, N_("bestandsnaam komt meer dan eens voor")))
            files.append(source)
            continue
        root, parse_problems = parse_xml(source)
        problems.extend(parse_problems)
        if root is None:
            files.append(source)
            continue
        if source.kind != "dmn" and dmn_lint.is_dmn(root):
            source = SourceFile(source.name + ".dmn", source.content)  # noqa: PLW2901
        files.append(source)
        xsd = xsd_problems(source, root)
        problems.extend(xsd)
        if xsd:
            continue
        roots[source.name] = root
        problems.extend(dmn_lint.lint(source, root) if source.kind == "dmn"
                        else bpmn_checks.lint(source, root))
    # Decision tables against the set: input domains from its forms, gaps, overlaps, contract.
    # Only when every BPMN file could be read: the forms give the tables their domains.
    if all(f.name in roots for f in files if f.kind == "bpmn"):
        problems.extend(dmn_coverage.check_set(files, roots))
        # what the conditions read, over the set: the decisions' outputs are variables too
        problems.extend(condition_checks.check_set(roots))
    bpmn_roots = [roots[f.name] for f in files if f.kind == "bpmn" and f.name in roots]
    if not any(f.kind == "bpmn" for f in files):
        problems.append(Problem(files[0].name, 1, N_("geen BPMN-bestand in de set")))
    elif bpmn_roots or not problems:
        problems.extend(_contract_problems(files, roots))
    if problems:
        renamed = {f"{f.name}.dmn": f.name for f in given}
        return None, sorted({dataclasses.replace(p, file=renamed.get(p.file, p.file))
                             for p in problems})
    definition = _build(files, roots)
    if isinstance(definition, Problem):
        return None, [definition]
    if prove:
        # The proof of every route (engine.proof) runs last: it needs a parsed, statically
        # valid version. Stored versions passed it when they were deployed (load skips it).
        from . import proof

        route_problems = proof.prove(definition)
        if route_problems:
            return None, route_problems
    return definition, []


def _contract_problems(files: list[SourceFile], roots: dict) -> list[Problem]:
    """The set must hold process `meldcode` with every contract step as a user task."""
    bpmn = [(f, roots[f.name]) for f in files if f.kind == "bpmn" and f.name in roots]
    process = None
    for source, root in bpmn:
        found = root.xpath(f"//bpmn:process[@id='{PROCESS_ID}']", namespaces=NS)
        if found:
            process = (source, found[0])
            break
    if process is None:
        return [Problem(files[0].name, 1, Message(N_("proces '{process}' ontbreekt in de set"),
                                                  process=PROCESS_ID))]
    source, node = process
    problems = []
    if node.get("isExecutable") not in ("true", "1"):
        problems.append(Problem(source.name, _line(node), Message(
            N_("proces '{process}' is niet uitvoerbaar (isExecutable)"), process=PROCESS_ID)))
    tasks = {t.get("id") for t in node.xpath(".//bpmn:userTask", namespaces=NS)}
    for step in CONTRACT_STEPS:
        if step not in tasks:
            problems.append(Problem(source.name, _line(node), Message(
                N_("gebruikerstaak '{step}' ontbreekt"), step=step)))
    decisions: set[str] = set()
    for f in files:
        if f.kind == "dmn" and f.name in roots:
            ns = {"dmn": etree.QName(roots[f.name]).namespace}
            for decision in roots[f.name].xpath("//dmn:decision", namespaces=ns):
                if decision.get("id") in decisions:
                    # SpiffWorkflow keeps one of them, depending on the order of the files.
                    problems.append(Problem(f.name, _line(decision), Message(N_(
                        "beslissing '{decision}' staat in meer dan één DMN-bestand van de set; "
                        "de engine zou er willekeurig één gebruiken"), decision=decision.get("id"))))
                decisions.add(decision.get("id"))
    for brt in node.xpath(".//bpmn:businessRuleTask", namespaces=NS):
        ref = brt.get(f"{{{CAMUNDA_NS}}}decisionRef")
        if not ref:
            problems.append(Problem(source.name, _line(brt), Message(
                N_("'{task}' mist camunda:decisionRef"), task=brt.get("id"))))
        elif ref not in decisions:
            problems.append(Problem(source.name, _line(brt), Message(
                N_("beslistabel '{table}' ontbreekt in de set"), table=ref)))
    return problems


def load(files: list[SourceFile], prove: bool = False) -> ProcessDefinition:
    """The parsed definition of a file set, or InvalidDefinition. Without `prove` the proof of
    every route is skipped: for stored versions, which passed it when they were deployed."""
    definition, problems = check(files, prove=prove)
    if definition is None:
        raise InvalidDefinition(problems)
    return definition


def read_paths(paths: Sequence[str | Path]) -> list[SourceFile]:
    return [SourceFile(Path(p).name, Path(p).read_bytes()) for p in paths]


def shipped_files() -> list[SourceFile]:
    from .settings import PROCESSES_DIR

    paths = sorted(PROCESSES_DIR.glob("*.bpmn")) + sorted(PROCESSES_DIR.glob("*.dmn"))
    return read_paths(paths)


_cache: dict[str, ProcessDefinition] = {}
_cache_lock = threading.Lock()


def cached(sha256: str, loader) -> ProcessDefinition:
    """The parsed definition of a stored version; parsed once per process."""
    with _cache_lock:
        found = _cache.get(sha256)
    if found is None:
        found = parse_stored(loader())
        with _cache_lock:
            _cache[sha256] = found
    return found
