"""Recorded data as a page shows it: each value of a form or of a product's own event with its
label (a Message from the diagram or the catalogue), type and option names, in the form's
order. The engine gives values; the web layer words and formats them (webui/web.py answer).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from . import links, sharing, timezones


def event_fields(step, action: str) -> list:
    """The fields that label an event's data: those of the product's own actions (a
    hand-over or share, a consult, the team informed after a melding, a case moved to another
    version or stalled, a timer that fired), else its step's form. Labels are Messages (N_),
    which the web layer translates; the JSON API gives the raw data."""
    # these build on cases and pages: imported when needed
    from .consults import EVENT_FIELDS as CONSULT_FIELDS
    from .informing import EVENT_FIELDS as INFORMED_FIELDS
    from .migration import EVENT_FIELDS as MIGRATION_FIELDS
    from .timers import EVENT_FIELDS as TIMER_FIELDS

    for table in (sharing.EVENT_FIELDS, CONSULT_FIELDS, INFORMED_FIELDS, MIGRATION_FIELDS,
                  TIMER_FIELDS, links.EVENT_FIELDS):
        if action in table:
            return table[action]
    return step.fields if step else []


def labelled(fields: list, data: dict[str, Any]) -> list[dict[str, Any]]:
    """What was recorded in a form, labelled, in the form's order (unknown keys last):
    [{"name", "label", "type", "value", "option_label"}] (option_label: the diagram's name of
    the chosen option, or of each chosen one joined with commas), a date field's value as a
    datetime.date, a "datetime" field's (a timer's due time) as an aware UTC datetime (both
    stored as ISO text; text that is neither stays text), for a page to show."""
    out = []
    known = set()
    for f in fields:
        known.add(f.name)
        if f.name not in data:
            continue
        parse = {"date": date.fromisoformat, "datetime": timezones.parse_iso}.get(f.type)
        value = _parsed(data[f.name], parse) if parse else data[f.name]
        option = option_label({o.value: o.label for o in f.options}, value)
        out.append({"name": f.name, "label": f.label, "type": f.type, "value": value,
                    "option_label": option})
    for name, value in data.items():
        if name not in known:
            out.append({"name": name, "label": name, "type": _type_of(value), "value": value,
                        "option_label": None})
    return out


def option_label(names: dict[str, str], value: Any) -> str | None:
    """How a recorded choice reads: the diagram's name of the chosen option (`names`: option
    value -> label), of each chosen one of a multi-choice field joined with commas (an
    unknown code as it is), None for no choice or a field without options. The one rendering
    of the case page (labelled) and the dossier (engine/dossier.py): the dossier showed a
    multi-choice answer as the Python list "['vgv']" (issue 14). Raises nothing."""
    if isinstance(value, list) and names:
        return ", ".join(names.get(v, str(v)) for v in value) or None
    return names.get(value) if isinstance(value, str) else None


def _parsed(value: Any, parse: Any) -> Any:
    """`parse(value)` for stored ISO text; the value as it is when that is no such text."""
    if isinstance(value, str):
        try:
            return parse(value)
        except ValueError:
            pass
    return value


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "text"
