"""The XML of a definition file, before SpiffWorkflow reads it: a hardened parse, the BPMN/DMN
XSD, and which diagram element a line of the file belongs to.

The parser resolves no entities, loads no DTD and fetches nothing from the network; a file
with a DOCTYPE is refused (entity tricks all need one). Every problem is a Problem (FILE:LINE:
message, in Dutch); nothing here raises for a fault in a file.
"""

from __future__ import annotations

import bisect
import threading
from typing import TYPE_CHECKING, TypedDict

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH

from . import dmn_lint
from .messages import N_, Message
from .problems import BPMN_NS, Problem
from .problems import line_of as _line
from .xml_findings import schema_reason, syntax_reason

if TYPE_CHECKING:
    from .definitions import SourceFile

BPMN_XSD = XSD_PATH
MAX_FILE_BYTES = 5 * 1024 * 1024


class ParserOptions(TypedDict):
    """Keyword arguments of etree.XMLParser (a TypedDict, so `**` keeps their types)."""

    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    dtd_validation: bool
    huge_tree: bool
    remove_blank_text: bool


# The options of every lxml parser that reads a definition file (also versions' own reads).
XML_PARSER_OPTIONS = ParserOptions(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
)


def parse_xml(source: SourceFile) -> tuple[etree._Element | None, list[Problem]]:
    """The root element of a file read with the hardened parser, or None and the problems:
    larger than 5 MiB, empty, not well-formed XML, or with a DOCTYPE."""
    if len(source.content) > MAX_FILE_BYTES:
        return None, [Problem(source.name, 1, N_("bestand is groter dan 5 MiB"))]
    if not source.content.strip():
        return None, [Problem(source.name, 1, N_("bestand is leeg"))]
    parser = etree.XMLParser(**XML_PARSER_OPTIONS)
    try:
        root = etree.fromstring(source.content, parser)
    except etree.XMLSyntaxError as exc:
        return None, [Problem(source.name, exc.lineno or 1, Message(
            N_("geen geldige XML: {reason}"), reason=syntax_reason(exc)))]
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # Entity tricks (billion laughs, external entities) all need a DTD.
        return None, [Problem(source.name, 1, N_("een DOCTYPE is niet toegestaan"))]
    return root, []


_schema_cache: dict[str, etree.XMLSchema] = {}
_schema_lock = threading.Lock()


def _schema(path: str) -> etree.XMLSchema:
    with _schema_lock:
        schema = _schema_cache.get(path)
        if schema is None:
            schema = etree.XMLSchema(etree.parse(path))
            _schema_cache[path] = schema
        return schema


def xsd_problems(source: SourceFile, root) -> list[Problem]:
    """The schema errors of a well-formed file (at most 50): BPMN 2.0 against SpiffWorkflow's
    BPMN XSD, DMN 1.1 to 1.5 as engine.dmn_lint.schema_view says; empty when it is valid."""
    note = ""
    if source.kind == "dmn":
        # DMN 1.1 to 1.5; versions without a working schema are validated as DMN 1.3.
        view = dmn_lint.schema_view(root)
        if view is None:
            return [Problem(source.name, _line(root), dmn_lint.UNKNOWN_VERSION)]
        xsd, root, note = view
    else:
        if etree.QName(root).namespace != BPMN_NS or etree.QName(root).localname != "definitions":
            return [Problem(source.name, _line(root), N_(
                "geen BPMN 2.0-bestand (bpmn:definitions)"))]
        xsd = str(BPMN_XSD)
    schema = _schema(xsd)
    if schema.validate(root):
        return []
    problems = []
    for err in schema.error_log:
        problems.append(Problem(source.name, err.line or 1, Message(
            N_("schemafout: {reason}{note}"), reason=schema_reason(err.type_name, err.message),
            note=note)))
        if len(problems) >= 50:
            break
    return problems


def element_ids_by_line(content: bytes) -> list[tuple[int, str]]:
    """(line, id) of the BPMN element that each element starting on a line belongs to: the
    element itself when it carries an id, else its nearest BPMN ancestor with one (a condition
    belongs to its flow, a form field to its task, a shape to what it draws). Sorted by line;
    empty when unreadable."""
    try:
        root = etree.fromstring(content, etree.XMLParser(**XML_PARSER_OPTIONS))
    except (etree.XMLSyntaxError, ValueError):
        return []
    found: dict[int, str] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.sourceline or node.sourceline in found:
            continue
        owner: etree._Element | None = node
        while owner is not None:
            drawn = owner.get("bpmnElement")
            if drawn:  # a shape or edge of the drawing: what it draws
                found[node.sourceline] = drawn
                break
            owner_id = owner.get("id")
            if etree.QName(owner).namespace == BPMN_NS and owner_id and \
                    etree.QName(owner).localname != "definitions":
                found[node.sourceline] = owner_id
                break
            owner = owner.getparent()
    return sorted(found.items())


def element_for_line(index: list[tuple[int, str]], line: int) -> str | None:
    """The element a problem on `line` is about: the element that starts on that line, or the
    last one starting before it (a problem inside a multi-line element)."""
    position = bisect.bisect_right(index, (line, "\uffff")) - 1
    return index[position][1] if position >= 0 else None
