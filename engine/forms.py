"""Task forms: read from camunda:formData in the BPMN, and validation of submitted data."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from . import expressions
from . import form_choices as choices
from .messages import N_, Message, text_of

# Camunda's form field types, mapped to the contract's field types.
_TYPES = {"string": "string", "long": "integer", "boolean": "boolean", "date": "date", "enum": "enum",
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
    # An expression over the case data: when it holds, the field is required (and shown).
    required_when: str | None = None
    depends_on: tuple[str, ...] = field(default=())
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
        return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def fields_of(task_spec) -> list[Field]:
    form = getattr(task_spec, "form", None)
    result = []
    for f in getattr(form, "fields", []) or []:
        kind = _TYPES.get(f.type, "string")
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
                depends_on=tuple(sorted(expressions.names_in(required_when or "True"))),
                invalid_when=f.get_property("invalid_when") or None,
                invalid_message=(f.get_property("invalid_message") or "").strip(),
                shown_when=f.get_property("shown_when") or None,
                default=choices.default_of(kind, getattr(f, "default_value", None)),
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
    that cannot be evaluated does not). What the task's form gives (API, page). Raises nothing."""
    return [f for f in fields if not f.shown_when or _holds(f.shown_when, context or {})]


def _holds(expression: str, context: dict[str, Any]) -> bool:
    # A condition over an answer not given (or unreadable) does not hold: a missing one is reported.
    try:
        return bool(expressions.evaluate(expression, context))
    except expressions.ExpressionError:
        return False


# Characters refused in every text (the one rule of forms.clean_text), by Unicode category
# (unicodedata) rather than by a list, so every character of the kind is caught:
# - Cc, the C0 and C1 control characters and DEL (a newline or NUL in a client reference
#   breaks out of the line it is shown on, and of CSS, headers and logs); multi-line text
#   keeps the newline and the tab.
# - Cf, the invisible format characters. Among them the bidi embeddings, overrides and
#   isolates (U+202A-U+202E, U+2066-U+2069), which reorder the text around them as displayed,
#   so what is read differs from what is stored ("Trojan Source", CVE-2021-42574), and the
#   bidi marks LRM, RLM and ALM (U+200E, U+200F, U+061C): invisible direction controls too,
#   which move neighbouring digits and punctuation (issue 11 point 3). Further the invisible
#   characters that make two identical-looking references differ or hide text: zero-width
#   space U+200B, word joiner U+2060, byte order mark U+FEFF, soft hyphen U+00AD, the
#   interlinear annotation characters U+FFF9-U+FFFB and the tag characters U+E0000 block.
# - Zl and Zp, the line and paragraph separators U+2028/U+2029: a line break other than the
#   newline.
# - Cs, lone surrogates (U+D800-U+DFFF, possible from JSON "\ud800"): no character at all;
#   the database refuses to store them.
# The zero-width non-joiner U+200C and joiner U+200D (format characters too) stay allowed:
# Persian and Arabic names (and Indic scripts, and emoji sequences) need them.
_REFUSED_KINDS = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})
_MULTILINE_ALLOWED = frozenset({"\n", "\t"})
_BIDI_CONTROLS = frozenset({"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"})
# An ASCII text (most texts) is scanned by one expression; a text of other characters by
# the category of each of its distinct characters (texts run to 100,000 characters, their
# distinct characters to a few hundred).
_ASCII_REFUSED_IN_LINE = re.compile("[\\x00-\\x1f\\x7f]")
_ASCII_REFUSED_IN_TEXT = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f]")


def _is_refused(char: str, multiline: bool) -> bool:
    """Whether clean_text's rule refuses `char` (see the notes above)."""
    if char in _JOINERS or (multiline and char in _MULTILINE_ALLOWED):
        return False
    return unicodedata.category(char) in _REFUSED_KINDS


def _first_refused(value: str, multiline: bool) -> str | None:
    """The first character of `value` that clean_text's rule refuses, or None."""
    if value.isascii():
        found = (_ASCII_REFUSED_IN_TEXT if multiline else _ASCII_REFUSED_IN_LINE).search(value)
        return found.group() if found else None
    refused = [char for char in set(value) if _is_refused(char, multiline)]
    return min(refused, key=value.index) if refused else None


def _refused_character(char: str, multiline: bool) -> Message | None:
    """Why `char` may not be in a text, in Dutch; None when it may."""
    if not _is_refused(char, multiline):
        return None
    kind = unicodedata.category(char)
    if kind == "Cc":
        if char in "\r\n":
            return N_("een regeleinde")
        if char == "\t":
            return N_("een tab")
        return N_("een stuurteken")
    if kind == "Cs":
        return N_("een losse surrogaat, geen geldig teken")
    if kind in ("Zl", "Zp"):
        return N_("een regel- of alineascheiding")
    if unicodedata.bidirectional(char) in _BIDI_CONTROLS:
        return N_("een teken dat de schrijfrichting omkeert")
    return N_("een onzichtbaar teken")


def refused_character(value: str, multiline: bool = False,
                      subject: Message | None = None) -> Message | None:
    """Why `value` may not be stored as it is, in Dutch, naming the first character that
    clean_text's rule refuses (with its code point); None when it holds none. The value is
    taken as it is, white space around it included: for a text that is not stripped, such
    as a new password. `subject` names the text ("De tekst" when None)."""
    char = _first_refused(value, multiline)
    if char is None:
        return None
    why = _refused_character(char, multiline)
    if why is None:
        return None
    where = N_("in dit veld") if multiline or char not in "\r\n" \
        else N_("in een veld van één regel")
    return Message(N_("{subject} bevat {why} (U+{code}); dat is {where} niet toegestaan."),
                   subject=subject or N_("De tekst"), why=why, code=f"{ord(char):04X}",
                   where=where)


def required_note(value: Any, maxlength: int, missing: str,
                  errors: dict[str, Any], field: str) -> str | None:
    """A required multi-line text of the product's own forms (a reason, a question) through
    clean_text: the cleaned text, or None with errors[field] set (clean_text's Dutch refusal,
    or `missing` when the value is absent, not text or white space only). Never raises."""
    try:
        text = clean_text(value, maxlength, multiline=True) if isinstance(value, str) else None
    except ValueError as exc:
        errors[field] = text_of(exc)
        return None
    if text is None:
        errors[field] = missing
    return text


def clean_text(value: Any, maxlength: int | None = None, multiline: bool = False) -> str | None:
    """A submitted text as it is stored: without white space around it, None when nothing is
    left (white space alone is no answer).

    The one text rule of every door (API, web form, command line; start_case and every form
    field). A single-line text (a client reference, a field of type "string") holds no control
    character at all; a multi-line text (type "text") may hold newlines and tabs (a CR LF from
    a browser's textarea, or a lone CR, is stored as a newline). Both refuse the other C0/C1
    controls and every other character of the Unicode categories Cf, Zl, Zp and Cs: bidi
    embeddings, overrides, isolates and marks (LRM, RLM, ALM), invisible spaces, line
    separators and lone surrogates (see the notes above _is_refused; issue 11 point 3); the
    zero-width (non-)joiner stays allowed.
    Raises ValueError with a Dutch message for a value that is not text, holds a refused
    character (named with its code point) or is longer than maxlength.
    """
    if not isinstance(value, str):
        raise ValueError(N_("Vul tekst in."))
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    # White space around the text is dropped first: a trailing newline pasted along with a
    # reference is no reason to refuse it, as nothing of it is stored.
    value = value.strip()
    problem = refused_character(value, multiline)
    if problem is not None:
        raise ValueError(problem)
    if maxlength is not None and len(value) > maxlength:
        raise ValueError(Message(N_("Maximaal {n} tekens (nu {length})."), n=maxlength,
                                 length=len(value)))
    return value or None


def validate(
    fields: list[Field], data: Any, context: dict[str, Any] | None = None, from_web: bool = False
) -> dict[str, Any]:
    """Check submitted data against a form; the clean values, or FormInvalid with Dutch errors.

    The one validation of every door (API, web form, command line): a text is stored without
    the white space around it, and a text of white space only counts as not given (so a
    required one is missing). A field's required_when makes it required when the expression
    holds over context (the case data) and the answers; its invalid_when refuses the answer
    with its invalid_message when that expression holds.

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
            value = value.strip()
        if value is None or value == "" or value == []:
            continue
        try:
            converted = _convert(f, value, from_web)
        except ValueError as exc:
            errors[f.name] = text_of(exc)
            continue
        if converted is not None:
            clean[f.name] = converted
    scope = {**(context or {}), **clean}
    for f in fields:
        if f.name in clean or f.name in errors:
            continue
        if f.required or (f.required_when and is_applicable(f, scope)):
            errors[f.name] = REQUIRED
        elif f.default is not None:
            clean[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
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
