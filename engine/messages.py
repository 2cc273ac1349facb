"""The texts of the engine that a person reads: a Dutch template and the values filled in.

The engine speaks Dutch (the command line, the logs and the API's default), and the web layer
speaks the reader's language. So a message keeps both: `Message(N_("Procesversie {number}
bestaat niet."), number=3)` is the Dutch text itself (a str, so it compares, prints, logs and
serialises as that text), and carries its template and values, which the web layer translates
through the Flask-Babel catalogues (webui/texts.translate) and fills in again. A value that is
itself a Message (a code or a phrase of ours) is translated too; any other value (a name, a
number, a text from the diagram) is filled in as it is, and so is every plain str: only a
Message is ever looked up in the catalogues.

`N_` marks a template for extraction into the catalogues (webui/translations/update.py, keyword
N_) and makes a Message of it without values: `N_("Casus niet gevonden.")` is that text.
"""

from __future__ import annotations

from typing import Any


def N_(template: str) -> Message:
    """Mark a Dutch text for the catalogues: the text itself, as a Message without values."""
    return Message(template)


class Message(str):
    """A Dutch text made from `template` (marked with N_) and `params` (str.format names)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Message:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template = template
        self.params = params
        return self

    def __reduce__(self):
        return (_message, (self.template, self.params))


def _message(template: str, params: dict[str, Any]) -> Message:
    return Message(template, **params)


def text_of(exc: BaseException) -> str:
    """The message an exception was raised with, a Message kept as one (str(exc) would make a
    plain text of it)."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, str) else str(exc)


# A value a verify line or refusal names as it is stored: never Python's own words for none,
# true or false in a Dutch line (issue 11: "opgeslagen: None").
EMPTY, YES, NO = N_("leeg"), N_("ja"), N_("nee")


def shown(value: Any, limit: int = 60) -> str:
    """`value` as a Dutch line names it: None as EMPTY ("leeg"), True and False as YES and NO
    (Messages: translated where the line is), anything else as its repr, at most `limit`
    characters (the last one "…" when cut). Raises nothing."""
    if value is None:
        return EMPTY
    if value is True or value is False:
        return YES if value else NO
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
