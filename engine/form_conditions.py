"""What a form field's required_when leaves open once the case data is known (issue 14).

engine/forms.py decides on the server which fields a form asks: a field whose required_when
does not hold over condition_scope (the case data for names that are no field of the form,
the answers, else each field's default) is not asked, and an answer to it is refused
(NOT_ASKED, 422). The web form must ask the same, before it is sent. Here a condition is
evaluated partially: every name that is no field of this form is read from the case data,
exactly as forms.condition_scope does, and only the answers stay open. What is left is

- True: the field is required whatever the answers (the web form says so plainly);
- False: it is never asked on this form (the web form leaves it off);
- a list of tests `field op value` (op `==` or `!=`) over fields of this form that must all
  hold (the browser checks them; each test carries the value the server reads when the field
  is left empty: its default, never an earlier round's answer);
- None: anything else, which only the server decides.

The same goes for an invalid_when that does not read its own field (refusals): where it holds,
every answer to the field is refused, so the web form leaves the field off or hides it.

A condition holds as forms._holds says: it evaluates without an error and is truthy. The
partial evaluation keeps that exactly, short-circuits included (`a or b` is an error when `a`
is), so True and False are what the server would decide with any answers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum
from typing import Any

from . import expressions

Tests = list[dict[str, Any]]
Decision = bool | Tests | None

# The literal a browser compares with a field's answer, per field type: the type the answer
# has on the server (engine/forms._convert). A multi field's answer is a list: no test.
_LITERALS: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "enum": (str,),
    "string": (str,),
    "text": (str,),
    "date": (str,),
}
_OPS = {ast.Eq: "==", ast.NotEq: "!="}
_FLIP = {"==": "!=", "!=": "=="}


class _Known(Enum):
    """A part decided whatever the answers: it holds (evaluates without error to a truthy
    value), is falsy, raises an error, or does not hold (falsy or an error: which one depends
    on the answers)."""

    HOLDS = "holds"
    FALSY = "falsy"
    ERROR = "error"
    NOT_HOLDS = "not_holds"


@dataclass(frozen=True)
class _Open:
    """A part that depends on the answers; `tests`: the tests that must all hold for it to
    hold (None: not such a conjunction)."""

    tests: tuple[tuple[str, str, Any], ...] | None = None


_Truth = _Known | _Open
_UNDECIDED = _Open(None)


@dataclass(frozen=True)
class _FieldRef:
    name: str


def decide(expression: str | None, fields: list[dict[str, Any]], context: dict[str, Any] | None) -> Decision:
    """What `expression` (a required_when) leaves open on the form with `fields` (as
    forms.Field.as_dict gives them: this case's form, forms.shown_fields) in a case with data
    `context`: True (required whatever the answers), False (never asked), a list of tests
    {"field", "op", "value", "type"[, "default"]} that must all hold (`default`: what the
    server reads when the field is left empty, absent when it reads nothing, so the test does
    not hold), or None (only the server can tell). No expression: True. `context` None: the
    case data is not known, every name that is no field stays open. Raises nothing (a
    condition that does not compile never holds, as forms._holds reads it)."""
    if not expression:
        return True
    on_form = {f["name"]: f for f in fields}
    try:
        tree = expressions.compile_expression(expression)
    except expressions.ExpressionError:
        return False
    known = None if context is None else {k: v for k, v in context.items() if k not in on_form}
    truth = _Reader(on_form, known).truth(tree.body)
    if truth is _Known.HOLDS:
        return True
    if isinstance(truth, _Known):
        return False
    if truth.tests is None:
        return None
    # a field left empty reads as its default, never as an earlier round's answer in the
    # case data (forms.condition_scope)
    fallback = {f["name"]: f["default"] for f in fields if "default" in f}
    return [
        {
            "field": name,
            "op": op,
            "value": value,
            "type": on_form[name]["type"],
            **({"default": fallback[name]} if name in fallback else {}),
        }
        for name, op, value in truth.tests
    ]


def form_conditions(fields: list[dict[str, Any]], context: dict[str, Any] | None) -> dict[str, Decision]:
    """decide() for each field of `fields` with a required_when, by field name. Raises
    nothing."""
    return {f["name"]: decide(f["required_when"], fields, context) for f in fields if f.get("required_when")}


def refusals(fields: list[dict[str, Any]], context: dict[str, Any] | None) -> dict[str, Decision]:
    """decide() of the invalid_when of each field of `fields` (as for form_conditions) that
    does not read the field itself, by field name: where it holds, forms.validate refuses
    every answer to that field (kindcheck_toelichting without children, 783214a), so the
    field is not asked either: True, refused whatever the answers; tests that must all hold
    for it to be refused (the web form hides the field while they do); False or None,
    asked (None: only the server can tell). An invalid_when that reads its own field refuses
    some answers only (zorgen_weggenomen 'ja' after a client not reached): left out, the
    server's message says which. Raises nothing."""
    found: dict[str, Decision] = {}
    for f in fields:
        try:
            own = f["name"] in expressions.names_in(f.get("invalid_when") or "")
        except expressions.ExpressionError:
            own = True  # never holds (forms._holds): refuses nothing
        if f.get("invalid_when") and not own:
            found[f["name"]] = decide(f["invalid_when"], fields, context)
    return found


class _Reader:
    """Partial evaluation over one form: `fields` by name stay open (the answers), `known`
    is every other name's value (None: nothing is known)."""

    def __init__(self, fields: dict[str, dict[str, Any]], known: dict[str, Any] | None):
        self.fields = fields
        self.known = known

    def _open_names(self, node: ast.AST) -> bool:
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if self.known is None:
            return any(n not in expressions.CONSTANTS or n in self.fields for n in names)
        return any(n in self.fields for n in names)

    def _exact(self, node: ast.AST) -> tuple[bool, Any]:
        """(True, value) of a part that reads no answer, (False, None) when it errs."""
        try:
            return True, expressions.evaluate(ast.unparse(node), self.known or {})
        except expressions.ExpressionError:
            return False, None

    def truth(self, node: ast.AST) -> _Truth:
        if not self._open_names(node):
            ok, value = self._exact(node)
            return _Known.ERROR if not ok else _Known.HOLDS if value else _Known.FALSY
        if isinstance(node, ast.BoolOp):
            parts = [self.truth(value) for value in node.values]
            return _and(parts) if isinstance(node.op, ast.And) else _or(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _not(self.truth(node.operand))
        if isinstance(node, ast.Name) and _yes_no(self.fields.get(node.id)):
            # a bare ja/nee field holds exactly when `x == True` does (an answer is a bool; no
            # answer and no default errs in both): issue 14, a fresh tester
            return _Open(((node.id, "==", True),))
        if isinstance(node, ast.Compare):
            # a chain `a == b == c` is `a == b and b == c`: the evaluator stops at the first
            # pair that does not hold, as `and` does (each side is pure, read twice the same)
            sides = [node.left, *node.comparators]
            pairs = [
                ast.Compare(left=a, ops=[op], comparators=[b])
                for a, op, b in zip(sides[:-1], node.ops, node.comparators, strict=True)
            ]
            return _and([self.truth(pair) for pair in pairs]) if len(pairs) > 1 else self._compare(node)
        return _UNDECIDED

    def _value(self, node: ast.AST) -> Any:
        """A compared side: its value, _Known.ERROR, a _FieldRef or _UNDECIDED."""
        if not self._open_names(node):
            ok, value = self._exact(node)
            return value if ok else _Known.ERROR
        if isinstance(node, ast.Name) and node.id in self.fields:
            return _FieldRef(node.id)
        return _UNDECIDED

    def _compare(self, node: ast.Compare) -> _Truth:
        # both sides are evaluated (left first) before comparing: an error in either is the
        # comparison's error, whatever the other side
        left, right = self._value(node.left), self._value(node.comparators[0])
        if left is _Known.ERROR or right is _Known.ERROR:
            return _Known.ERROR
        kind = type(node.ops[0])
        if isinstance(left, _FieldRef) and kind in _MEMBERSHIP and isinstance(right, tuple | frozenset):
            return self._member(left.name, kind is ast.In, right)
        op = _OPS.get(kind)
        if isinstance(left, _FieldRef) and not isinstance(right, _FieldRef | _Open):
            ref, literal = left, right
        elif isinstance(right, _FieldRef) and not isinstance(left, _Open):
            ref, literal = right, left
        else:
            return _UNDECIDED
        if kind in (ast.Is, ast.IsNot) and type(literal) is bool and _yes_no(self.fields[ref.name]):
            # `x is True` on a ja/nee field is `x == True`: its answer is a bool
            op = "==" if kind is ast.Is else "!="
        literal = _as_field_value(self.fields[ref.name], literal)
        if op is None or literal is _NO_TEST:
            return _UNDECIDED
        return _Open(((ref.name, op, literal),))

    def _member(self, name: str, inside: bool, values: tuple | frozenset) -> _Truth:
        """`x in [a]` is `x == a`; `x not in [a, b]` is `x != a and x != b` (both err when x is
        not read, as the tests do). More than one value to be in is no conjunction: open."""
        literals = {_as_field_value(self.fields[name], v) for v in values}
        if _NO_TEST in literals or not literals or (inside and len(literals) > 1):
            return _UNDECIDED
        op = "==" if inside else "!="
        return _Open(tuple((name, op, v) for v in sorted(literals, key=repr)))


_NO_TEST = object()  # a literal the browser cannot compare with the field's answer
_MEMBERSHIP = (ast.In, ast.NotIn)


def _yes_no(field: dict[str, Any] | None) -> bool:
    return field is not None and field["type"] == "boolean"


def _as_field_value(field: dict[str, Any], literal: Any) -> Any:
    """`literal` as the browser compares it with `field`'s answer, or _NO_TEST."""
    kinds = _LITERALS.get(field["type"], ())
    if bool in kinds and type(literal) in (int, float) and literal in (0, 1):
        # the evaluator holds True == 1 and False == 0, and the check accepts 1/0 on a ja/nee
        # field (740cefe): the browser gets the same test as true/false (issue 14, a fresh
        # tester: without it the field had no data-when, always shown and 'verplicht')
        return bool(literal)
    if not isinstance(literal, kinds) or (isinstance(literal, bool) and bool not in kinds):
        return _NO_TEST
    return literal


def _and(parts: list[_Truth]) -> _Truth:
    """`a and b` holds when each part holds (a part that does not stops it)."""
    open_parts: list[_Open] = []
    for part in parts:
        if part is _Known.HOLDS:
            continue
        if isinstance(part, _Known):
            # the first part that does not hold decides; with an open part before it, which
            # of falsy and error it is depends on the answers
            return _Known.NOT_HOLDS if open_parts else part
        open_parts.append(part)
    if not open_parts:
        return _Known.HOLDS
    if any(p.tests is None for p in open_parts):
        return _UNDECIDED
    return _Open(tuple(t for p in open_parts for t in p.tests or ()))


def _or(parts: list[_Truth]) -> _Truth:
    """`a or b`: the first truthy part holds it, an error in a part before that stops it."""
    may_hold = unsure = False
    for i, part in enumerate(parts):
        if part is _Known.HOLDS:
            return _UNDECIDED if unsure else _Known.HOLDS
        if part is _Known.FALSY:
            continue
        if part is _Known.ERROR:
            return _UNDECIDED if may_hold else _Known.NOT_HOLDS if unsure else _Known.ERROR
        if part is _Known.NOT_HOLDS:
            unsure = True
            continue
        if i == len(parts) - 1 and not unsure:
            return part  # `a or x` with `a` falsy holds exactly when `x` does
        may_hold = unsure = True
    if may_hold:
        return _UNDECIDED
    return _Known.NOT_HOLDS if unsure else _Known.FALSY


def _not(part: _Truth) -> _Truth:
    """`not a`: holds when `a` is falsy, an error when `a` is. `not (x == v)` is `x != v`: both
    err when x is not read (no answer, no default) and otherwise differ from `x == v`."""
    if part is _Known.HOLDS:
        return _Known.FALSY
    if part is _Known.FALSY:
        return _Known.HOLDS
    if part is _Known.ERROR:
        return _Known.ERROR
    if isinstance(part, _Open) and part.tests is not None and len(part.tests) == 1:
        name, op, value = part.tests[0]
        return _Open(((name, _FLIP[op], value),))
    return _UNDECIDED


def unshown(expression: str | None, types: dict[str, str]) -> list[tuple[str, str]]:
    """The fields of a form (`types`: each field of the form by name, its type) that
    `expression` (a required_when, or an invalid_when that does not read its own field) reads
    in a part decide() may leave to the server alone, whatever the case data, as (field, that
    part's text): the web form would then always show the field, marked required, while the
    server does not ask it (issue 14, a fresh tester). meldcode check refuses those
    (engine.condition_checks). Read as decide reads: `x`, `not x`, `x is True/False` (x ja/nee),
    `x == v`, `x != v`, `x in [v]`, `x not in [v, w]` (v a literal of the field's type, 1/0 for
    true/false), joined by `and`, and by `or` after parts that read no field of the form; a
    multi field's answer is a list, never such a test. Only the smallest such part is named,
    not a sound test joined to it by `and`. Raises nothing (an expression that does not
    compile is refused elsewhere): []."""
    try:
        tree = expressions.compile_expression(expression or "")
    except expressions.ExpressionError:
        return []
    culprits: list[ast.AST] = []
    fields = {n: {"type": t} for n, t in types.items()}
    _tests_of(tree.body, fields, culprits)
    found = {(n.id, ast.unparse(p)) for p in culprits for n in ast.walk(p) if isinstance(n, ast.Name)}
    return sorted(f for f in found if f[0] in fields)


def _tests_of(node: ast.AST, fields: dict[str, dict[str, Any]], culprits: list[ast.AST]) -> int | None:
    """How many tests `node` gives decide() whatever the case data (0: it reads no field of
    the form), None when it may give none; such a part goes to `culprits` unless a part of it
    already went."""
    if not {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(fields):
        return 0
    before = len(culprits)
    count: int | None = None
    if isinstance(node, ast.Name):
        count = 1 if _yes_no(fields[node.id]) else None
    elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        counts = [_tests_of(v, fields, culprits) for v in node.values]
        count = None if None in counts else sum(c or 0 for c in counts)
    elif isinstance(node, ast.BoolOp):
        counts = [_tests_of(v, fields, culprits) for v in node.values]
        # decide reads `a or x` (a reads no field) as a when a holds, else x; more is open
        count = counts[-1] if all(c == 0 for c in counts[:-1]) else None
        if any(c != 0 for c in counts[:-1]):
            del culprits[before:]  # the `or` itself is what the page cannot follow
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _tests_of(node.operand, fields, culprits)
        # `not` flips one test of a comparison or a bare field, nothing more
        simple = isinstance(node.operand, ast.Name) or (
            isinstance(node.operand, ast.Compare) and len(node.operand.ops) == 1
        )
        count = 1 if simple and inner == 1 else None
    elif isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        triples = zip(sides[:-1], node.ops, node.comparators, strict=True)
        counts = [_pair(a, op, b, fields) for a, op, b in triples]
        count = None if None in counts else sum(c or 0 for c in counts)
    if count is None and len(culprits) == before:
        culprits.append(node)
    return count


def _pair(left: ast.expr, op: ast.cmpop, right: ast.expr, fields: dict[str, dict[str, Any]]) -> int | None:
    """The tests of one comparison: a field of the form against a literal, as _compare and
    _member of _Reader take it (0: no field of the form read)."""
    names = {n.id for side in (left, right) for n in ast.walk(side) if isinstance(n, ast.Name)} & set(fields)
    if not names:
        return 0
    # no case data: a side that reads a name other than a field errs, so only a literal side
    # gives a test here (the case data's value could be of any type)
    truth = _Reader(fields, {}).truth(ast.Compare(left=left, ops=[op], comparators=[right]))
    return len(truth.tests) if isinstance(truth, _Open) and truth.tests else None
