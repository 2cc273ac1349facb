"""Static checks of what a condition compares a variable with: a comparison that never holds as
meant switches its rule off in silence (engine.condition_checks checks what a condition reads).

A deploy refuses (issue 14 break-it), naming the condition, the variable and what it can hold:
- a value the variable never holds: an option that no keuzeveld of that name has (`'knmg'`
  where the options are `KNMG`), a text for a ja/nee-veld, a beroepsgroep that
  organisation.BEROEPSGROEPEN does not know, a meerkeuzeveld compared as one value;
- a value of a type the variable never has: a text field (or a date) compared with a number
  (`overleg_met == 3`), a number (a getalveld, the engine's count `meldingen_gedaan`) with a
  text (`meldingen_gedaan == 'nul'`). `==` then never holds and `!=` always; `<`, `>` and `in`
  cannot even be worked out (the evaluator's "kan ... niet vergelijken"), so the condition
  never holds (forms._holds) and a gateway stops the case.
The types are those an answer has on the server (engine.forms._convert): a text, date or
option is a text, a getalveld (camunda long) an integer, a ja/nee-veld True or False, a
meerkeuzeveld a list; the engine's facts (driving.ENGINE_FACTS) are counts.
"""

from __future__ import annotations

import ast
import contextlib
from typing import Any

from . import expressions
from .form_checks import NO_WORDS, YES_WORDS, suggestion
from .messages import N_, Message
from .problems import NS

_EQUALITY = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)
_MEMBERSHIP = (ast.In, ast.NotIn)
_ORDER = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)

# What an answer is on the server, by camunda type (engine.forms._TYPES, _convert).
_TEXT, _NUMBER, _BOOLEAN, _LIST = "text", "number", "boolean", "list"
_SORTS = {"string": _TEXT, "date": _TEXT, "enum": _TEXT, "long": _NUMBER, "boolean": _BOOLEAN, "multi": _LIST}
_FACT, _GROUP = "fact", "group"  # an engine fact (a count), the case's beroepsgroep (a text)
_WHAT = {
    "string": N_("een tekstveld (het antwoord is een tekst)"),
    "date": N_("een datumveld (het antwoord is een datum als tekst, JJJJ-MM-DD)"),
    "enum": N_("een keuzeveld (het antwoord is de waarde van een optie, een tekst)"),
    "long": N_("een getalveld (het antwoord is een geheel getal)"),
    "boolean": N_("een ja/nee-veld (het antwoord is True of False)"),
    "multi": N_("een meerkeuzeveld (het antwoord is een lijst van keuzes)"),
    _FACT: N_("een telling van de engine (een geheel getal)"),
    _GROUP: N_("de beroepsgroep van de casus (een tekst)"),
}
_LITERAL = {_TEXT: N_("een tekst"), _NUMBER: N_("een getal"), _BOOLEAN: N_("ja/nee (True of False)")}
_ALLOWED = {
    _TEXT: N_("een tekst tussen aanhalingstekens"),
    _NUMBER: N_("een geheel getal zonder aanhalingstekens"),
    _BOOLEAN: N_("True of False"),
    _LIST: N_("een keuze, als 'optie' in veld"),
    "date": N_("een datum als tekst, zoals '2024-12-31'"),
}
_WHY = {
    "equal": N_("die zijn nooit gelijk"),
    "member": N_("die zijn nooit gelijk"),
    "order": N_("die kunnen niet op grootte worden vergeleken, de voorwaarde kan nooit worden uitgerekend"),
    "contains": N_("daarin kan niet worden gezocht, de voorwaarde kan nooit worden uitgerekend"),
}
# Numbers written out, for "bedoelt u 0?" at `meldingen_gedaan == 'nul'`.
_NUMBER_WORDS = {
    word: n
    for n, words in enumerate(
        (
            ("nul", "geen"),
            ("een", "één"),
            ("twee",),
            ("drie",),
            ("vier",),
            ("vijf",),
            ("zes",),
            ("zeven",),
            ("acht",),
            ("negen",),
            ("tien",),
        )
    )
    for word in words
}


def value_problems(
    tree, where: Message, known: set[str], fields: dict[str, list[Any]], facts: set[str], group: str
) -> list[Message]:
    """The problems of the comparisons in one condition (`tree`, compiled by the evaluator;
    `where` names it): each variable in `known` (what the condition may read) compared with a
    literal it can never equal, or of a type it never has. `fields`: variable -> the
    camunda:formField nodes of that name; `facts`: the engine's facts; `group`: the variable
    holding the beroepsgroep. A variable a decision fills (no field, no fact) is not judged.
    Raises nothing."""
    messages = []
    for variable, value, kind in _comparisons(tree):
        if variable in known:
            message = _value_problem(variable, value, kind, where, fields, group) or _type_problem(
                variable, value, kind, where, _kind_of(variable, fields, facts, group)
            )
            if message is not None:
                messages.append(message)
    return messages


def _comparisons(tree) -> list[tuple[str, Any, str]]:
    """(variable, literal, "equal" | "member" | "contains" | "order") for each comparison of
    a variable with a literal: `v == 'a'` (either way round), `v in ('a', 'b')` (each),
    `'a' in v`, `v < 3` (either way round)."""
    found: list[tuple[str, Any, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if isinstance(op, (*_EQUALITY, *_ORDER)):
                for a, b in ((left, right), (right, left)):
                    name, value = _variable(a), _literal(b)
                    if name and value is not None:
                        found.append((name, value[0], "order" if isinstance(op, _ORDER) else "equal"))
            elif isinstance(op, _MEMBERSHIP) and isinstance(right, ast.Tuple | ast.List | ast.Set):
                name = _variable(left)
                values = [_literal(e) for e in right.elts] if name else []
                found += [(name, v[0], "member") for v in values if name and v is not None]
            elif isinstance(op, _MEMBERSHIP):
                name, value = _variable(right), _literal(left)
                if name and value is not None:
                    found.append((name, value[0], "contains"))
    return found


def _variable(node) -> str | None:
    if isinstance(node, ast.Name) and node.id not in expressions.CONSTANTS:
        return node.id
    return None


def _literal(node) -> tuple[Any] | None:
    """(value,) for a literal (a constant, `true`, `None`, `-1`), else None."""
    if isinstance(node, ast.Constant):
        return (node.value,)
    if isinstance(node, ast.Name) and node.id in expressions.CONSTANTS:
        return (expressions.CONSTANTS[node.id],)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _literal(node.operand)
        if inner is not None and isinstance(inner[0], int | float) and not isinstance(inner[0], bool):
            return (-inner[0] if isinstance(node.op, ast.USub) else inner[0],)
    return None


def _kind_of(variable: str, fields: dict[str, list[Any]], facts: set[str], group: str) -> str | None:
    """The camunda type of `variable`'s fields (all of one type), _FACT, _GROUP, or None."""
    if variable == group:
        return _GROUP
    kinds = {f.get("type") for f in fields.get(variable, [])}
    if len(kinds) == 1 and next(iter(kinds)) in _SORTS:
        return next(iter(kinds))
    return _FACT if variable in facts and not kinds else None


def _domain(variable: str, fields: dict[str, list[Any]], group: str) -> tuple[str, list[Any]] | None:
    """("choice" | "multi" | "boolean", the values `variable` can hold) when the set says so:
    the options of its keuzevelden, ja/nee for its ja/nee-velden, the beroepsgroepen for
    `group`; None for a text, a number, a date, a decision or a mix of kinds."""
    from .organisation import BEROEPSGROEPEN

    kinds = {f.get("type") for f in fields.get(variable, [])}
    options = [
        v.get("id") for f in fields.get(variable, []) for v in f.xpath("camunda:value[@id]", namespaces=NS)
    ]
    if variable == group:
        return ("choice", [*BEROEPSGROEPEN, *options]) if kinds <= {"enum"} else None
    if kinds == {"boolean"}:
        return "boolean", [True, False]
    if kinds in ({"enum"}, {"multi"}):
        return ("multi" if kinds == {"multi"} else "choice"), list(dict.fromkeys(options))
    return None


def _value_problem(
    variable: str, value: Any, kind: str, where: Message, fields: dict[str, list[Any]], group: str
) -> Message | None:
    domain = _domain(variable, fields, group)
    if domain is None or value is None or kind == "order":
        return None  # None: not answered, which an optional field can be
    sort, values = domain
    if sort == "multi" and kind == "equal":
        return Message(
            N_(
                "{where} vergelijkt het meerkeuzeveld '{name}' (een lijst van keuzes) met {value}: "
                "dat is nooit gelijk, dus de regel werkt niet; bedoelt u {value} in {name}?"
            ),
            where=where,
            name=variable,
            value=repr(value),
        )
    # 1 and 0 are ja and nee to the evaluator (True == 1, engine/expressions.py): accepted, so
    # the check refuses no condition that works (issue 14); a text is never True, 2 never ja
    if (sort == "multi") != (kind == "contains") or any(
        value == v and (type(value) is type(v) or sort == "boolean") for v in values
    ):
        return None  # `'a' in tekst` is a text search, `v in (...)` of a list not ours to judge
    return Message(
        N_(
            "{where} vergelijkt '{name}' met {value}, maar '{name}' kan die waarde nooit hebben "
            "(mogelijk: {values}), dus de regel werkt niet zoals bedoeld{hint}"
        ),
        where=where,
        name=variable,
        value=repr(value),
        values=", ".join(repr(v) for v in values),
        hint=_value_hint(value, sort, values, group, variable),
    )


def _value_hint(value: Any, sort: str, values: list[Any], group: str, variable: str) -> Message | str:
    meant: Any = None
    if sort == "boolean" and isinstance(value, str):
        text = value.strip().lower()
        meant = True if text in YES_WORDS else False if text in NO_WORDS else None
    elif isinstance(value, str) and variable == group:
        from .organisation import beroepsgroep_key

        meant = beroepsgroep_key(value)
    if meant is None and isinstance(value, str):
        meant = suggestion(value, [v for v in values if isinstance(v, str)])
    if meant is None:
        return ""
    return Message(N_("; bedoelt u {suggestion}?"), suggestion=repr(meant))


def _sort_of_literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int | float):
        return _NUMBER
    return _TEXT if isinstance(value, str) else None


def _type_problem(
    variable: str, value: Any, kind: str, where: Message, field_kind: str | None
) -> Message | None:
    """A comparison of `variable` (of `field_kind`, _kind_of) with a literal of a type that
    never equals it (`==`, `in (...)`) or that the evaluator cannot compare with it (`<`,
    `'a' in v`): Python's own rules, as engine.expressions applies them. Equality with an
    option, a ja/nee or a beroepsgroep is _value_problem's (it names the values)."""
    literal = _sort_of_literal(value)
    if field_kind is None or literal is None:
        return None
    sort = _TEXT if field_kind == _GROUP else _NUMBER if field_kind == _FACT else _SORTS[field_kind]
    if kind in ("equal", "member"):
        # a number equals True or False (1 == True): only a text is never a number
        wrong = field_kind not in ("enum", _GROUP) and (
            (sort == _TEXT and literal != _TEXT) or (sort == _NUMBER and literal == _TEXT)
        )
    elif kind == "order":
        wrong = (
            sort == _LIST
            or (_TEXT in (sort, literal) and sort != literal)
            or (sort == _BOOLEAN and literal == _TEXT)
        )
    else:  # contains: a search in a text takes a text; a number or ja/nee holds nothing
        wrong = sort in (_NUMBER, _BOOLEAN) or (sort == _TEXT and literal != _TEXT)
    if not wrong:
        return None
    return Message(
        N_(
            "{where} vergelijkt '{name}' met {value}, maar '{name}' is {what} en {value} is {other}: "
            "{why}, dus de regel werkt niet zoals bedoeld; vergelijk met {allowed}{hint}"
        ),
        where=where,
        name=variable,
        value=repr(value),
        what=_WHAT[field_kind],
        other=_LITERAL[literal],
        why=_WHY[kind],
        allowed=_ALLOWED["date" if field_kind == "date" else sort],
        hint="" if kind == "order" and sort == _TEXT else _type_hint(value, sort),
    )


def _type_hint(value: Any, sort: str) -> Message | str:
    """ "; bedoelt u 0?" for 'nul' or '0' where a number is meant, "; bedoelt u '3'?" for 3
    where a text is meant; else ""."""
    meant: Any = None
    if sort == _NUMBER and isinstance(value, str):
        text = value.strip().lower()
        meant = _NUMBER_WORDS.get(text)
        if len(text) < 13:
            with contextlib.suppress(ValueError):  # '②', '--1': isdigit() holds, int() refuses
                meant = int(text)
    elif sort == _TEXT and isinstance(value, int | float) and not isinstance(value, bool):
        meant = str(value)
    return "" if meant is None else Message(N_("; bedoelt u {suggestion}?"), suggestion=repr(meant))
