"""Task forms: read from camunda:formData in the BPMN, and validation of submitted data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from . import expressions

# Camunda's form field types, mapped to the contract's field types.
_TYPES = {"string": "string", "long": "integer", "boolean": "boolean", "date": "date", "enum": "enum"}
DEFAULT_MAXLENGTH = {"string": 200, "text": 4000}
INTEGER_LIMIT = 10**9


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str  # string | text | boolean | enum | date | integer
    required: bool = False
    help: str = ""
    options: tuple[Option, ...] = ()
    maxlength: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    # An expression over the case data: when it holds, the field is required (and shown).
    required_when: str | None = None
    depends_on: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "help": self.help,
        }
        if self.type == "enum":
            out["options"] = [{"value": o.value, "label": o.label} for o in self.options]
        if self.maxlength is not None:
            out["maxlength"] = self.maxlength
        if self.required_when:
            out["required_when"] = self.required_when
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
                options=tuple(Option(o.id, o.name or o.id) for o in getattr(f, "options", [])),
                maxlength=maxlength,
                minimum=_int(f.get_validation("min")),
                maximum=_int(f.get_validation("max")),
                required_when=required_when,
                depends_on=tuple(sorted(expressions.names_in(required_when)))
                if required_when
                else (),
            )
        )
    return result


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


REQUIRED = "Dit veld is verplicht."


def is_applicable(f: Field, context: dict[str, Any]) -> bool:
    """A conditional field applies when its condition holds over the data known so far."""
    if not f.required_when:
        return True
    try:
        return bool(expressions.evaluate(f.required_when, context))
    except expressions.ExpressionError:
        return False


def validate(
    fields: list[Field], data: Any, context: dict[str, Any] | None = None, from_web: bool = False
) -> dict[str, Any]:
    """Check submitted data against a form; the clean values, or FormInvalid with Dutch errors.

    from_web: values come as strings from an HTML form ("ja"/"nee", "12"), not as JSON types.
    """
    if not isinstance(data, dict):
        raise FormInvalid({"data": "Verwacht een object met veldwaarden."})
    by_name = {f.name: f for f in fields}
    errors: dict[str, str] = {}
    for key in data:
        if key not in by_name:
            errors[str(key)[:100]] = "Onbekend veld: dit formulier vraagt hier niet om."
    clean: dict[str, Any] = {}
    for f in fields:
        if f.name not in data:
            continue
        value = data[f.name]
        if from_web and isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        try:
            clean[f.name] = _convert(f, value, from_web)
        except ValueError as exc:
            errors[f.name] = str(exc)
    scope = dict(context or {})
    scope.update(clean)
    for f in fields:
        if f.name in clean or f.name in errors:
            continue
        if f.required or (f.required_when and is_applicable(f, scope)):
            errors[f.name] = REQUIRED
    if errors:
        raise FormInvalid(errors)
    return clean


def _convert(f: Field, value: Any, from_web: bool) -> Any:
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if from_web and isinstance(value, str) and value.lower() in ("ja", "true", "1", "nee", "false", "0"):
            return value.lower() in ("ja", "true", "1")
        raise ValueError("Kies ja of nee.")
    if f.type == "integer":
        if from_web and isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ValueError("Vul een geheel getal in.") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Vul een geheel getal in.")
        if abs(value) > INTEGER_LIMIT:
            raise ValueError("Dit getal is te groot.")
        if f.minimum is not None and value < f.minimum:
            raise ValueError(f"Vul een getal van minstens {f.minimum} in.")
        if f.maximum is not None and value > f.maximum:
            raise ValueError(f"Vul een getal van hoogstens {f.maximum} in.")
        return value
    if f.type == "date":
        if not isinstance(value, str):
            raise ValueError("Vul een datum in als JJJJ-MM-DD.")
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("Vul een geldige datum in als JJJJ-MM-DD.") from None
    if f.type == "enum":
        allowed = [o.value for o in f.options]
        if not isinstance(value, str) or value not in allowed:
            raise ValueError("Kies een van de mogelijkheden: " + ", ".join(allowed) + ".")
        return value
    # string and text
    if not isinstance(value, str):
        raise ValueError("Vul tekst in.")
    if "\x00" in value:
        raise ValueError("De tekst bevat een ongeldig teken.")
    if f.maxlength is not None and len(value) > f.maxlength:
        raise ValueError(f"Maximaal {f.maxlength} tekens (nu {len(value)}).")
    return value
