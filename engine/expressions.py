"""The safe evaluator for gateway conditions, DMN cells and form conditions.

SpiffWorkflow's own script engine hands diagram text to Python's eval/exec, which is no
sandbox. Every expression from a diagram goes through this module instead: it parses the
text into a Python AST, accepts only an allow-list of node types (names, literals,
comparisons, and/or/not, `in`, simple arithmetic on numbers) and walks the tree itself.
Nothing is ever compiled or executed by the interpreter.
"""

from __future__ import annotations

import ast
import operator
import re
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .messages import N_, Message

MAX_LENGTH = 2000  # characters of expression text
MAX_NODES = 200
MAX_DEPTH = 20
MAX_STRING = 1000  # characters of a string literal
MAX_NUMBER = 10**12  # absolute value of a numeric literal or arithmetic result

# FEEL spellings, so DMN cells written in Camunda Modeler ("true", "null") read naturally.
CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.BinOp,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
    *_COMPARE,
    *_ARITH,
)
# Dutch names for the constructs people most often try, for a message that says what is wrong.
_REFUSED_NAMES = {
    ast.Attribute: N_("attribuuttoegang (a.b)"),
    ast.Call: N_("functie-aanroepen"),
    ast.Lambda: N_("lambda-expressies"),
    ast.Subscript: N_("indexering (a[b])"),
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Pow: N_("machtsverheffen (**)"),
    ast.NamedExpr: N_("toekenningen (:=)"),
    ast.IfExp: N_("if-expressies"),
    ast.Dict: "dictionaries",
    ast.JoinedStr: "f-strings",
    ast.Starred: N_("uitpakken (*)"),
    ast.Await: "await",
    ast.Yield: "yield",
}


class ExpressionError(ValueError):
    """An expression that is refused or cannot be evaluated; the message is Dutch, an
    engine.messages.Message (engine.messages.text_of gives it back as one)."""


def _depth(node: ast.AST, level: int = 0) -> int:
    children = list(ast.iter_child_nodes(node))
    if level > MAX_DEPTH:
        return level
    return max((_depth(child, level + 1) for child in children), default=level)


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> ast.Expression:
    """Parse and check an expression; raise ExpressionError with a Dutch reason if refused."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(N_("lege expressie"))
    if len(text) > MAX_LENGTH:
        raise ExpressionError(Message(N_("expressie te lang (meer dan {n} tekens)"), n=MAX_LENGTH))
    # Refuse absurd nesting before the parser does work proportional to it.
    if text.count("(") > MAX_DEPTH * 2 or text.count("[") > MAX_DEPTH * 2:
        raise ExpressionError(N_("expressie te diep genest"))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(Message(N_("ongeldige expressie: {reason}"),
                                      reason=str(getattr(exc, "msg", exc)))) from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(Message(N_("expressie te groot (meer dan {n} onderdelen)"), n=MAX_NODES))
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(N_("expressie te diep genest"))
    for node in nodes:
        if not isinstance(node, _ALLOWED):
            what = _REFUSED_NAMES.get(type(node), type(node).__name__)
            raise ExpressionError(Message(N_("niet toegestaan in een expressie: {what}"), what=what))
        if isinstance(node, ast.Name) and (node.id.startswith("_") or "__" in node.id):
            raise ExpressionError(Message(N_("naam '{name}' is niet toegestaan"), name=node.id))
        if isinstance(node, ast.Constant):
            _check_value(node.value)
    return tree


def _check_value(value: Any) -> None:
    if isinstance(value, str | bytes) and len(value) > MAX_STRING:
        raise ExpressionError(Message(N_("tekst te lang (meer dan {n} tekens)"), n=MAX_STRING))
    if isinstance(value, bytes):
        raise ExpressionError(N_("bytes zijn niet toegestaan"))
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise ExpressionError(N_("getal te groot"))
    if isinstance(value, complex):
        raise ExpressionError(N_("complexe getallen zijn niet toegestaan"))


def names_in(text: str) -> set[str]:
    """The variable names an expression reads (for lint and form dependencies)."""
    return {
        n.id
        for n in ast.walk(compile_expression(text))
        if isinstance(n, ast.Name) and n.id not in CONSTANTS
    }


def evaluate(text: str, context: dict[str, Any]) -> Any:
    """Evaluate an expression over a mapping of variables."""
    return _eval(compile_expression(text).body, context)


_PLAIN = (str, int, float, bool, type(None), tuple, list, set, frozenset)


def _eval(node: ast.AST, ctx: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        # a constant first: a variable named `false` must not turn every `x == false` round
        # (meldcode check refuses such a field name too)
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in ctx:
            value = ctx[node.id]
        else:
            raise ExpressionError(Message(N_("onbekende variabele '{name}'"), name=node.id))
        # Data reaching an expression is JSON-like; anything else (an object smuggled into
        # task data) is not looked at, so no attribute of it can ever be reached.
        if not isinstance(value, _PLAIN):
            raise ExpressionError(Message(N_("variabele '{name}' heeft een niet-toegestaan type"),
                                          name=node.id))
        return value
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, ctx)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, ctx)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, ctx)
        if isinstance(node.op, ast.Not):
            return not operand
        _require_number(operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.Compare):
        left = _eval(node.left, ctx)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, ctx)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:
                raise ExpressionError(Message(N_("kan {left} en {right} niet vergelijken"),
                                              left=_kind(left), right=_kind(right))) from None
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, ctx), _eval(node.right, ctx)
        _require_number(left)
        _require_number(right)
        try:
            result = _ARITH[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExpressionError(N_("deling door nul")) from None
        _check_value(result)
        return result
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = [_eval(elt, ctx) for elt in node.elts]
        return frozenset(items) if isinstance(node, ast.Set) else tuple(items)
    raise ExpressionError(Message(N_("niet toegestaan in een expressie: {what}"),
                                   what=type(node).__name__))


# What a value is, in words, where a message names it (never Python's type name: "int")
_KINDS = {bool: N_("ja/nee"), int: N_("een getal"), float: N_("een getal"),
          str: N_("een tekst"), tuple: N_("een lijst"), list: N_("een lijst"),
          frozenset: N_("een verzameling"), type(None): N_("niets")}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), N_("een waarde"))


def _require_number(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(N_("rekenen kan alleen met getallen"))


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment that evaluates with this module and runs no scripts."""

    def evaluate(self, expression, context, external_context=None):
        scope = dict(context)
        scope.update(external_context or {})
        return evaluate(expression, scope)

    def execute(self, script, context, external_context=None):
        raise ExpressionError(N_("scripttaken worden niet uitgevoerd"))

    def call_service(self, context, **kwargs):
        raise ExpressionError(N_("servicetaken worden niet uitgevoerd"))


class SafeScriptEngine(PythonScriptEngine):
    """The only script engine our workflows get."""

    def __init__(self):
        super().__init__(environment=SafeEnvironment())

    def validate(self, expression):
        # DMNEngine probes with validate() and expects SyntaxError for cells like "< 5".
        try:
            compile_expression(expression)
        except ExpressionError as exc:
            raise SyntaxError(str(exc)) from None

    def execute(self, task, script, external_context=None):
        raise WorkflowTaskException("scripttaken worden niet uitgevoerd", task=task)

    def call_service(self, task, **kwargs):
        raise WorkflowTaskException("servicetaken worden niet uitgevoerd", task=task)


SCRIPT_ENGINE = SafeScriptEngine()


# --- DMN input cells ------------------------------------------------------------------------------

# SpiffWorkflow's DMNEngine binds the input value to this name when a cell's text uses it (its
# own `?` placeholder becomes this name), and evaluates the cell text as it stands; otherwise it
# glues input and cell into `(input) == (cell)` or `input<cell>`, which misreads FEEL lists.
DMN_INPUT = "dmninputexpr"
# SpiffWorkflow's own pattern for a `?` outside quotes (DMNEngine.evaluate).
DMN_PLACEHOLDER = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")
_ENDPOINT = r"-?\d+(?:\.\d+)?|\"[^\"]*\"|'[^']*'|[A-Za-z][A-Za-z0-9_]*"
_RANGE = re.compile(
    rf"\s*([\[\]\(])\s*({_ENDPOINT})\s*\.\.\s*({_ENDPOINT})\s*([\[\]\)])\s*(?=,|$)")
_NOT = re.compile(r"not\s*\((.*)\)", re.S)
_IN = re.compile(r"(not\s+)?in\b")
_CELL_OPERATORS = ("<=", ">=", "!=", "==", "<", ">", "=")  # longest first


def dmn_input_test(cell: str | None) -> str | None:
    """What a DMN input cell means, as an expression of this evaluator over the input value
    (the name DMN_INPUT); None for an empty cell or `-` (every value matches).

    The cell is read as a FEEL unary test: `a, b` matches when any of the tests does,
    `not(a, b)` when none does, `[1..5]` / `]1..5[` / `(1..5)` is a range, `< 5` compares,
    and any other text is a value the input must equal. A cell that uses SpiffWorkflow's `?`
    placeholder is taken as written. The result names DMN_INPUT, so SpiffWorkflow's DMNEngine
    evaluates it as it stands, with the input value bound. Raises ExpressionError (Dutch) for a
    cell the evaluator cannot read or would misread (a list or tuple as one value)."""
    text = (cell or "").strip()
    if text in ("", "-"):
        return None
    if DMN_PLACEHOLDER.search(text):
        result = DMN_PLACEHOLDER.sub(DMN_INPUT, text)
        compile_expression(result)
        return result
    negated = _NOT.fullmatch(text)
    if negated:
        text = negated.group(1).strip()
        if not text:
            raise ExpressionError(N_("lege not(...) in een invoercel"))
    tests = [_one_test(part) for part in split_unary_tests(text)]
    result = tests[0] if len(tests) == 1 else " or ".join(f"({t})" for t in tests)
    if negated:
        result = f"not ({result})"
    compile_expression(result)
    return result


def split_unary_tests(text: str) -> list[str]:
    """The tests of a FEEL list `a, b, [1..5]`: split at commas outside quotes, brackets and ranges."""
    parts: list[str] = []
    position = 0
    while position <= len(text):
        found = _RANGE.match(text, position)
        if found:
            parts.append(found.group(0).strip())
            position = found.end()
        else:
            depth, quote, end = 0, "", position
            while end < len(text):
                char = text[end]
                if quote:
                    quote = "" if char == quote else quote
                elif char in "\"'":
                    quote = char
                elif char in "([{":
                    depth += 1
                elif char in ")]}":
                    depth -= 1
                elif char == "," and depth == 0:
                    break
                end += 1
            parts.append(text[position:end].strip())
            position = end
        # skip the comma between tests
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        if position >= len(text):
            break
        raise ExpressionError(Message(N_("ongeldige invoercel: onverwacht '{rest}'"),
                                      rest=text[position:]))
    if any(not part for part in parts):
        raise ExpressionError(N_("lege waarde in een lijst met komma's in een invoercel"))
    return parts


def _one_test(test: str) -> str:
    found = _RANGE.fullmatch(test)
    if found:
        opening, low, high, closing = found.groups()
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return f"{low} {low_op} {DMN_INPUT} {high_op} {high}"
    if _IN.match(test):  # `in ("a", "b")`: the spelling SpiffWorkflow's own tests use
        return f"{DMN_INPUT} {test}"
    operator_, value = "==", test
    for candidate in _CELL_OPERATORS:
        if test.startswith(candidate):
            operator_, value = candidate, test[len(candidate):].strip()
            break
    if operator_ == "=":
        operator_ = "=="
    body = compile_expression(value).body
    if isinstance(body, ast.Tuple | ast.List | ast.Set):
        raise ExpressionError(Message(N_(
            "'{test}' is een lijst als één waarde, die de invoer nooit evenaart; schrijf de "
            "waarden los met komma's ertussen, zonder haakjes"), test=test))
    return f"{DMN_INPUT} {operator_} ({value})"
