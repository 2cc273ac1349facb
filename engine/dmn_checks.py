"""Static checks of a DMN file: cells the evaluator can read.

Each check returns Problems (FILE:LINE: message, in Dutch) and never raises on odd input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from . import expressions
from .bpmn_checks import expression_problem as _expression_problem
from .problems import Problem
from .problems import line_of as _line

if TYPE_CHECKING:
    from .definitions import SourceFile


def lint(source: SourceFile, root) -> list[Problem]:
    problems = []
    ns = {"dmn": etree.QName(root).namespace}
    for entry in root.xpath("//dmn:inputEntry/dmn:text", namespaces=ns):
        text = (entry.text or "").strip()
        if text in ("", "-"):
            continue
        try:
            expressions.compile_expression(text)
        except expressions.ExpressionError as first:
            # "< 5" style cells compare the input on the left
            try:
                expressions.compile_expression(f"v {text}")
            except expressions.ExpressionError:
                problems.append(Problem(source.name, _line(entry), f"ongeldige invoercel: {first}"))
    for entry in root.xpath(
        "//dmn:outputEntry/dmn:text | //dmn:inputExpression/dmn:text", namespaces=ns
    ):
        text = (entry.text or "").strip()
        if not text:
            continue
        p = _expression_problem(source.name, entry, text, "ongeldige cel")
        if p:
            problems.append(p)
    return problems
