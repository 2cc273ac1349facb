"""The engine's texts in the reader's language.

The engine gives its messages as engine.messages.Message: the Dutch text, with its template and
values. Here the template is looked up in the Flask-Babel catalogues (the locale of the request:
the session's choice on pages, Accept-Language in the API) and the values filled in again; a
value that is itself a Message is translated the same way, any other value (a name, a number, a
text from the diagram) is filled in as it is. A plain str is never looked up: texts from the
diagram stay as the process owner wrote them.

Pages need nothing for it: every Message a template prints is translated (the Jinja finalize
set in web.init_app). JSON answers call translate_all on their body.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from engine.messages import Message
from engine.stored_text import DamagedData, DamagedList


def translate(value: Any) -> Any:
    """A Message in the reader's language (a str); any other value unchanged."""
    if not isinstance(value, Message):
        return value
    text = gettext(value.template)
    if value.params:
        text = text.format(**{name: translate(v) for name, v in value.params.items()})
    return text


# Values no translation changes; a Message, Damaged text and the JSON markers are subclasses
# of str and dict, never these exactly.
_AS_IS = frozenset({str, int, float, bool, type(None)})


def translate_all(value: Any) -> Any:
    """translate through dicts, lists and tuples: an error body with its field errors."""
    kind = type(value)  # exact types first: every API answer passes through here (issue 13 point 7)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {k: translate_all(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [translate_all(v) for v in value]
    if isinstance(value, Message):
        return translate(value)
    if isinstance(value, DamagedData | DamagedList):
        # stored JSON read as a marker (no Message inside): kept, so the API names the damage
        return value
    if isinstance(value, dict):
        return {k: translate_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [translate_all(v) for v in value]
    return value
