"""Task forms: read from camunda:formData in the BPMN, and validation of submitted data."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from . import clock, expressions, timezones
from . import form_choices as choices
from .form_text import clean_text, one_kind_of_line_break, refused_character, required_note, trimmed
from .messages import N_, Message, text_of

# The text rule is engine.form_text's; these names stay importable from here for the callers
# that validate a text of their own (start_case, users, consults).
__all__ = ["clean_text", "one_kind_of_line_break", "refused_character", "required_note", "trimmed"]

# Camunda's form field types, mapped to the contract's field types (CONTRACT section 4).
FIELD_TYPES = {"string": "string", "long": "integer", "boolean": "boolean", "date": "date", "enum": "enum",
          "multi": "multi"}
# Types whose answer is chosen from the field's options (camunda:value): one, or a list.
CHOICE_TYPES = ("enum", "multi")
DEFAULT_MAXLENGTH = {"string": 200, "text": 4000}
INTEGER_LIMIT = 10**9
# The days a date field takes, at every door (API, web form, command line): what a meldcode
# records (a birth date, the day of a talk) or plans (the evaluation of help, which a timer
# waits for: engine/timers.py refuses a timer date outside these years too). The year 1 was a
# 400 from the database (PostgreSQL: "date value out of range" of a timer's due time in UTC),
# the year 9999 a case waiting eight thousand years (issue 13 break-it).
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2100, 12, 31))
# A date field's bound relative to the day of the answer (Europe/Amsterdam, the engine's
# clock), declared in the diagram as a field property: `not_after` = "today" for a date that
# records what already happened (a talk, a melding: never in the future), `not_before` =
# "today" for one that plans (the evaluation of help: never in the past). Today is allowed in
# both. "today" is the one value these properties take.
TODAY = "today"


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    help: str = ""  # a short explanation of this option (property `help.<value>`)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str  # string | text | boolean | enum | multi | date | integer
    required: bool = False
    help: str = ""
    options: tuple[Option, ...] = ()
    maxlength: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    # An expression over the case data and the form's answers (an answer left empty read as
    # its default): when it holds, the field is required (and shown, on the web form).
    required_when: str | None = None
    # An expression over the form's answers (and the case data): when it holds, the answer
    # in this field is refused with invalid_message (e.g. "geen vermoeden" with acute danger).
    invalid_when: str | None = None
    invalid_message: str = ""
    # Over the case data (`beroepsgroep == 'artsen'`): when false, not on this case's form.
    shown_when: str | None = None
    # The value recorded when the field is left empty and not required (None: nothing is
    # recorded): a boolean's camunda defaultValue, and () for every multi field (recorded as
    # []), so a gateway condition such as `"vgv" in geweldsvormen` can always be evaluated.
    default: Any = None
    # A date field's bounds (TODAY or None; see TODAY above).
    not_after: str | None = None
    not_before: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.type,
                               "required": self.required, "help": self.help}
        if self.type in CHOICE_TYPES:
            out["options"] = [{"value": o.value, "label": o.label,
                               **({"help": o.help} if o.help else {})} for o in self.options]
        if self.default is not None:
            out["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        if self.maxlength is not None:
            out["maxlength"] = self.maxlength
        if self.required_when:
            out["required_when"] = self.required_when
        if self.invalid_when:
            out["invalid_when"] = self.invalid_when
            out["invalid_message"] = self.invalid_message or INVALID
        if self.not_after:
            out["not_after"] = self.not_after
        if self.not_before:
            out["not_before"] = self.not_before
        return out


def date_bounds(field: dict[str, Any]) -> tuple[dt.date, dt.date]:
    """The first and last day a date field (as Field.as_dict gives it) takes today:
    validate's rule, DATE_RANGE narrowed to today (Europe/Amsterdam) by not_before /
    not_after. For the web form's min and max. Raises nothing."""
    first, last = DATE_RANGE
    if field.get("not_before"):
        first = today()
    if field.get("not_after"):
        last = today()
    return first, last


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _today(value: str | None) -> str | None:
    """A date bound property's value as Field takes it: TODAY for "today" (case and white
    space aside), None for no property (or another value, which names no day)."""
    return TODAY if (value or "").strip().lower() == TODAY else None


def fields_of(task_spec) -> list[Field]:
    """The fields of a user task's form (camunda:formData as SpiffWorkflow parsed it), in
    order, with their properties (help, required_when, invalid_when, shown_when, not_after,
    not_before, multiline) and validation (required, maxlength, min, max). Raises nothing."""
    form = getattr(task_spec, "form", None)
    result = []
    for f in getattr(form, "fields", []) or []:
        kind = FIELD_TYPES.get(f.type, "string")
        if kind == "string" and (f.get_property("multiline") or "").lower() == "true":
            kind = "text"
        required_when = f.get_property("required_when") or None
        maxlength = _int(f.get_validation("maxlength"))
        if kind in DEFAULT_MAXLENGTH:
            maxlength = min(maxlength or DEFAULT_MAXLENGTH[kind], 100_000)
        result.append(
            Field(
                name=f.id,
                label=f.label or f.id,
                type=kind,
                # has_validation() looks at the config, which "required" does not have
                required=any(v.name == "required" for v in f.validation) and not required_when,
                help=f.get_property("help") or "",
                options=tuple(Option(o.id, o.name or o.id, f.get_property(f"help.{o.id}") or "")
                              for o in getattr(f, "options", [])),
                maxlength=maxlength,
                minimum=_int(f.get_validation("min")),
                maximum=_int(f.get_validation("max")),
                required_when=required_when,
                invalid_when=f.get_property("invalid_when") or None,
                invalid_message=(f.get_property("invalid_message") or "").strip(),
                shown_when=f.get_property("shown_when") or None,
                default=choices.default_of(kind, getattr(f, "default_value", None)),
                not_after=_today(f.get_property("not_after")) if kind == "date" else None,
                not_before=_today(f.get_property("not_before")) if kind == "date" else None,
            )
        )
    return result


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


REQUIRED = N_("Dit veld is verplicht.")
INVALID = N_("Dit antwoord past niet bij de andere antwoorden op dit formulier.")
NOT_FOR_GROUP = N_("Dit veld hoort niet bij het formulier van deze casus: het wordt alleen "
                   "gevraagd bij een andere beroepsgroep.")
NOT_AFTER_ANSWERS = N_("Dit veld hoort niet bij het formulier van deze casus: het wordt alleen "
                       "gevraagd na andere eerdere antwoorden.")
NOT_ASKED = N_("Dit veld hoort niet bij dit formulier zoals het is ingevuld: het wordt alleen "
               "gevraagd bij andere antwoorden. Laat het leeg.")


def not_on_form(f: Field) -> str:
    """Why an answer for `f`, a field this case's form leaves off (shown_fields), is refused:
    NOT_FOR_GROUP when its shown_when reads the case's beroepsgroep (engine/professions.py),
    else NOT_AFTER_ANSWERS. Raises nothing (deploy checks every shown_when, bpmn_checks)."""
    try:
        reads = expressions.names_in(f.shown_when or "True")
    except expressions.ExpressionError:
        reads = set()
    return NOT_FOR_GROUP if "beroepsgroep" in reads else NOT_AFTER_ANSWERS


def is_applicable(f: Field, context: dict[str, Any]) -> bool:
    """A conditional field applies when its condition holds over the data known so far."""
    return not f.required_when or _holds(f.required_when, context)


def shown_fields(fields: list[Field], context: dict[str, Any] | None) -> list[Field]:
    """The fields of a form on the form of a case with data `context` (its `beroepsgroep`:
    engine/professions.py), in order: those without shown_when or whose shown_when holds (one
    that cannot be evaluated does not). What the task's form gives (API, page), what
    validate takes and what a draft keeps (engine/drafts.py). Raises nothing.

    A field whose required_when reads a field this form leaves off, and no field on it, is
    settled: that field is never answered on this case's form, so it has its default (None
    without one) and the condition is decided now: `required` true or false, no
    required_when. So `gesprek_met` (required_when `client_niet_bereikt != True`, a KNMG point
    only on a doctor's form) is plainly required on every other case's form."""
    context = context or {}
    shown = [f for f in fields if not f.shown_when or _holds(f.shown_when, context)]
    on_form = {f.name for f in shown}
    left_off = {f.name: _recorded(f.default) for f in fields if f.name not in on_form}
    return [_settled(f, on_form, left_off, context) if left_off and f.required_when else f
            for f in shown]


def _settled(f: Field, on_form: set[str], left_off: dict[str, Any],
             context: dict[str, Any]) -> Field:
    """`f` with its required_when decided (shown_fields), when it reads a field left off
    this form and none on it; else `f` as it is."""
    try:
        reads = expressions.names_in(f.required_when or "")
        if reads & on_form or not reads & set(left_off):
            return f
        needed = bool(expressions.evaluate(f.required_when or "", {**context, **left_off}))
    except expressions.ExpressionError:
        return f
    return dataclasses.replace(f, required=needed, required_when=None)


def _recorded(default: Any) -> Any:
    """A field's default as it is recorded: a list for a multi field's ()."""
    return list(default) if isinstance(default, tuple) else default


def condition_scope(fields: list[Field], context: dict[str, Any] | None,
                    answers: dict[str, Any]) -> dict[str, Any]:
    """What a form condition (required_when, invalid_when) reads: the case data `context` for
    every name that is no field of `fields`; for a field of `fields`, the form's `answers`,
    else its default (what is recorded when it is left empty: client_niet_bereikt's false),
    else nothing: never the case data's value of a field of this form, in a task done again
    the earlier round's answer (issue 14). Raises nothing."""
    own = {f.name for f in fields}
    defaults = {f.name: _recorded(f.default) for f in fields if f.default is not None}
    earlier = {k: v for k, v in (context or {}).items() if k not in own}
    return {**earlier, **defaults, **answers}


def _is_default(f: Field, answer: Any) -> bool:
    """Whether `answer` (converted) is `f`'s default, of the same type (False is no 0)."""
    default = _recorded(f.default)
    return default is not None and type(answer) is type(default) and answer == default


def _holds(expression: str, context: dict[str, Any]) -> bool:
    # A condition over an answer not given (or unreadable) does not hold: a missing one is reported.
    try:
        return bool(expressions.evaluate(expression, context))
    except expressions.ExpressionError:
        return False


def validate(
    fields: list[Field], data: Any, context: dict[str, Any] | None = None, from_web: bool = False
) -> dict[str, Any]:
    """Check submitted data against a form; the clean values, or FormInvalid with Dutch errors.

    The one validation of every door (API, web form, command line): a text is stored without
    the white space around it, and a text of white space only counts as not given (so a
    required one is missing). A field's required_when makes it required when the expression
    holds over context (the case data) and the answers (condition_scope: a field left empty
    read as its default); its invalid_when refuses the answer with its invalid_message when
    that expression holds. A date field with not_after (not_before) "today" refuses a day after
    (before) today in Dutch time: what happened cannot lie in the future, what is planned not
    in the past. A field whose required_when does not hold is not asked: an answer to it is
    refused (NOT_ASKED, or its invalid_message when its invalid_when holds), nothing stored;
    but its default sent back (the 'nee' a web form without JavaScript opens with and cannot
    untick, a client that sends every default) is no answer: it counts as not given.

    A field not on this case's form (shown_fields: a KNMG point in a nurse's case) is never
    required and gets no default; a key sent for it is refused like an unknown key (CONTRACT
    section 4: "an unknown or disallowed key is named as a field"), never ignored.
    from_web: values come as strings from an HTML form ("ja"/"nee", "12"), not as JSON types.
    A multi field takes a list of distinct option values ([] or absent: none chosen); a
    field left empty that is not required gets its default (Field.default) recorded.
    Raises FormInvalid with {field: message} for unknown keys and every field in error.
    """
    if not isinstance(data, dict):
        raise FormInvalid({"data": N_("Verwacht een object met veldwaarden.")})
    by_name = {f.name: f for f in fields}
    fields = shown_fields(fields, context)
    shown = {f.name for f in fields}
    errors: dict[str, str] = {}
    for key in data:
        if key not in by_name:
            errors[str(key)[:100]] = N_("Onbekend veld: dit formulier vraagt hier niet om.")
        elif key not in shown:
            errors[key] = not_on_form(by_name[key])
    clean: dict[str, Any] = {}
    for f in fields:
        value = data.get(f.name)  # absent: not given, as None
        if from_web and isinstance(value, str):
            value = trimmed(value)  # the rule of every door, not str.strip (see trimmed)
        if value is None or value == "" or value == []:
            continue
        try:
            converted = _convert(f, value, from_web)
        except ValueError as exc:
            errors[f.name] = text_of(exc)
            continue
        if converted is not None:
            clean[f.name] = converted
    scope = condition_scope(fields, context, clean)
    for f in fields:
        # A question whose required_when does not hold is not asked (the web form disables
        # it): an answer to it is refused, never stored (issue 14: client_niet_bereikt with
        # gesprek_besproken). Its invalid_message says why, when its invalid_when holds.
        if f.name in clean and f.required_when and not is_applicable(f, scope):
            answer = clean.pop(f.name)
            if _is_default(f, answer):
                continue  # not given: its default is recorded below, as for an empty field
            errors[f.name] = (f.invalid_message or INVALID) \
                if f.invalid_when and _holds(f.invalid_when, scope) else NOT_ASKED
    for f in fields:
        if f.name in clean or f.name in errors:
            continue
        if f.required or (f.required_when and is_applicable(f, scope)):
            errors[f.name] = REQUIRED
        elif f.default is not None and (f.type != "multi" or not f.required_when or is_applicable(f, scope)):
            # a multi question not asked is not given (issue 14 F1): no [], shown as left empty
            clean[f.name] = _recorded(f.default)
    for f in fields:
        if f.invalid_when and f.name in clean and _holds(f.invalid_when, scope):
            errors[f.name] = f.invalid_message or INVALID
    if errors:
        raise FormInvalid(errors)
    return clean


def _convert(f: Field, value: Any, from_web: bool) -> Any:
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if from_web and isinstance(value, str) and value.lower() in ("ja", "true", "1", "nee", "false", "0"):
            return value.lower() in ("ja", "true", "1")
        raise ValueError(N_("Kies ja of nee."))
    if f.type == "integer":
        if from_web and isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ValueError(N_("Vul een geheel getal in.")) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(N_("Vul een geheel getal in."))
        if abs(value) > INTEGER_LIMIT:
            raise ValueError(N_("Dit getal is te groot."))
        if f.minimum is not None and value < f.minimum:
            raise ValueError(Message(N_("Vul een getal van minstens {n} in."), n=f.minimum))
        if f.maximum is not None and value > f.maximum:
            raise ValueError(Message(N_("Vul een getal van hoogstens {n} in."), n=f.maximum))
        return value
    if f.type == "date":
        if not isinstance(value, str):
            raise ValueError(N_("Vul een datum in als JJJJ-MM-DD."))
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(N_("Vul een geldige datum in als JJJJ-MM-DD.")) from None
        if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
            raise ValueError(Message(N_("Vul een datum in tussen {first} en {last}."),
                                     first=f"{DATE_RANGE[0]:%d-%m-%Y}",
                                     last=f"{DATE_RANGE[1]:%d-%m-%Y}"))
        _within_today(f, day)
        return day.isoformat()
    if f.type == "multi":
        return choices.convert_multi(f, value, from_web)
    if f.type == "enum":
        allowed = [o.value for o in f.options]
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(Message(N_("Kies een van de mogelijkheden: {options}."),
                                     options=", ".join(allowed)))
        return value
    return clean_text(value, f.maxlength, multiline=f.type == "text")  # string and text


def today() -> dt.date:
    """Today in the Netherlands (Europe/Amsterdam) by the engine's clock (engine/clock.py):
    the day a date field's not_after / not_before "today" compares with. Raises nothing."""
    return timezones.local(clock.now()).date()


def _within_today(f: Field, day: dt.date) -> None:
    """Raises ValueError (Dutch) when `day` breaks the date field `f`'s bound: after today
    with not_after (a date that records what happened, such as igj_melddatum), before today
    with not_before (a date that plans, such as hulp_evaluatiedatum)."""
    if f.not_after is None and f.not_before is None:
        return
    now = today()
    if f.not_after == TODAY and day > now:
        raise ValueError(Message(N_("Deze datum ligt in de toekomst. Vul de dag in waarop het "
                                    "gebeurde: vandaag ({today}) of eerder."),
                                 today=f"{now:%d-%m-%Y}"))
    if f.not_before == TODAY and day < now:
        raise ValueError(Message(N_("Deze datum ligt in het verleden. Kies vandaag ({today}) "
                                    "of een latere dag."), today=f"{now:%d-%m-%Y}"))
