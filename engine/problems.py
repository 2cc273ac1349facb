"""A problem found in a process definition: FILE:LINE: message, with an optional witness route.

Shared by the static checks (bpmn_checks, dmn_lint, dmn_coverage), the proof of every route
(proof) and the loader (definitions), so none of them imports another for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .messages import Message

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: `file` is the file name, `line` 1-based (1 where a problem has no line),
    `message` Dutch text for the process owner (an engine.messages.Message, which the web layer
    puts in the reader's language; a plain str only for a text from a library); `path` the
    witness route of a proof problem (CONTRACT section 5): a tuple of `{"step": element id,
    "data": {answers}}` dicts, oldest first. The path takes no part in equality, so one
    problem per element and rule stays one."""

    file: str
    line: int
    message: str
    path: tuple[Any, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # The last guard of issue 14's rule (one finding is one line): a value filled in that
        # a check did not pass through shown_text still cannot make up a line of its own.
        object.__setattr__(self, "message", one_line(self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def witness_lines(self) -> list[str]:
        """The witness route as lines for the command line, each indented by two spaces."""
        lines = []
        for number, hop in enumerate(self.path, 1):
            answers = ", ".join(f"{k}={_show(v)}" for k, v in (hop.get("data") or {}).items())
            lines.append(f"  {number}. {_escaped(str(hop['step']))}"
                         + (f": {_escaped(answers)}" if answers else ""))
        return lines

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "line": self.line, "message": self.message}
        if self.path:
            out["path"] = [dict(hop) for hop in self.path]
        return out


def _show(value: Any) -> str:
    if value is True:
        return "ja"
    if value is False:
        return "nee"
    return str(value)


def joined(parts: Iterable[str], separator: str = ", ") -> str:
    """`parts` joined by `separator` as one Message whose parts each keep their own template
    (a Message part is translated, a plain str part filled in as it is): a list in a problem
    text that the web layer can still put in the reader's language. The join itself is no text
    of the catalogues. An empty `parts` gives ""."""
    parts = list(parts)
    if not parts:
        return ""
    template = separator.replace("{", "{{").replace("}", "}}").join(
        f"{{p{number}}}" for number in range(len(parts)))
    return Message(template, **{f"p{number}": part for number, part in enumerate(parts)})


def shown_text(text: str, limit: int = 80) -> str:
    """Text taken from a diagram (a defaultValue, a property's value or name) as a finding
    quotes it: a character that is not printable (a newline, a tab, U+2028) written as Python
    escapes it (`\\n`), so one finding stays one line on the command line and a newline in the
    diagram cannot make up a finding of its own (issue 14); longer than `limit` characters:
    cut, with '…'. Raises nothing."""
    cut = text[:limit] + ("…" if len(text) > limit else "")
    return _escaped(cut)


def _escaped(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def one_line(message: str) -> str:
    """`message` with every character that is not printable in a value filled in written as
    an escape (`\\n`), as shown_text does but without a cut: a Message keeps its template and
    values (each str value escaped, a Message value the same way), a plain str is escaped
    whole. In: a problem's message; out: the same kind of text. Raises nothing. Rule: issue 14
    (F3), a newline in diagram text must not make up a finding line."""
    if message.isprintable():
        return message
    if not isinstance(message, Message):
        return _escaped(message)
    params = {key: one_line(value) if isinstance(value, str) else value
              for key, value in message.params.items()}
    return Message(message.template, **params)


def line_of(node) -> int:
    """The source line of an lxml element, 1 when unknown."""
    return getattr(node, "sourceline", None) or 1


def label_of(node) -> str:
    """How a problem names a BPMN/DMN element to a process owner: its label (the `name`
    attribute, as the modeler shows it) in quotes, the id only when it has no label."""
    name = " ".join((node.get("name") or "").split())
    return f"'{name}'" if name else f"'{shown_text(node.get('id') or etree.QName(node).localname)}'"
