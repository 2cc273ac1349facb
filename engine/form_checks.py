"""Static checks of the keys of a form field: what the product reads, and what it would skip.

engine.forms reads a field's properties, validation rules and attributes by name
(forms.fields_of); anything else it passes over without a word. A misspelled key therefore
switches a rule off in silence: `requird_when` makes a conditional field optional, `not_afer`
leaves a date open, `requird` makes a required answer optional, `defaultvalue` drops the value
that a gateway reads when the field is left empty. A deploy refuses every key the product does
not read, naming the field, its task (label and id) and the key, with "bedoelt u ...?" for a
near miss (issue 14 break-it). The names here are those of forms.fields_of and of the
definitions parser (definitions._FormUserTaskParser); tests/engine/test_form_checks.py holds
them together. What a condition reads is engine.condition_checks'.
"""

from __future__ import annotations

import difflib
import re

from lxml import etree

from .messages import N_, Message
from .problems import CAMUNDA_NS, NS, Problem, joined, label_of, shown_text
from .problems import line_of as _line

# The conditions of a field (forms.Field): expressions over the case data and the form's answers.
CONDITIONS = ("shown_when", "required_when", "invalid_when")
# Every property forms.fields_of reads; `help.<option>` besides, for each option of the field.
PROPERTIES = ("help", "multiline", *CONDITIONS, "invalid_message", "not_after", "not_before")
OPTION_HELP = "help."
# The validation rules forms.fields_of reads (camunda:constraint names).
CONSTRAINTS = ("required", "maxlength", "min", "max")
# The rules whose config forms.fields_of reads as a whole number (forms._int), and what it must be.
NUMBER_CONSTRAINTS = ("maxlength", "min", "max")
NUMBER_WORDS = {
    "maxlength": N_("een positief geheel getal (zoals 200)"),
    "min": N_("een geheel getal (zoals 0)"),
    "max": N_("een geheel getal (zoals 10)"),
}
# The attributes of camunda:formField the parser reads (definitions._FormUserTaskParser).
ATTRIBUTES = ("id", "label", "type", "defaultValue")
# Camunda elements inside a field and inside its lists, by the element that holds them.
CHILDREN = {
    "formField": ("properties", "validation", "value"),
    "properties": ("property",),
    "validation": ("constraint",),
}

# How a yes or a no is written by someone who means True or False (for "bedoelt u ...?").
YES_WORDS = ("true", "ja", "yes", "waar")
NO_WORDS = ("false", "nee", "no", "onwaar")
# The defaultValue forms.fields_of reads (form_choices.default_of): on a ja/nee-veld only, case
# and the white space around it aside.
DEFAULT_VALUES = ("true", "false")

_WHAT = {
    "property": N_("de eigenschap"),
    "constraint": N_("de validatieregel"),
    "attribute": N_("het attribuut"),
    "element": N_("het element"),
}


def suggestion(word: str, candidates) -> str | None:
    """The candidate `word` was probably meant to be: one that differs only in case, else
    the closest by difflib (ratio 0.6 or more, case ignored); None when none is close.
    In: a word and the names it could have been. Raises nothing."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(str(candidate).lower(), str(candidate))
    lower = str(word).lower()
    if lower in by_lower:
        return by_lower[lower]
    close = difflib.get_close_matches(lower, list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def hint(word: str, candidates) -> Message | str:
    """ "; bedoelt u 'x'?" for the near miss of `word` among `candidates`, else ""."""
    found = suggestion(word, [c for c in candidates if c != word])
    return Message(N_("; bedoelt u {suggestion}?"), suggestion=f"'{shown_text(found)}'") if found else ""


def element_named(node) -> str:
    """An element as a problem names it to a process owner: its label and its id
    ("'Stap 1: signalen' (stap1_signalen)"), the id alone when it has no label."""
    label = label_of(node)
    node_id = node.get("id") or ""
    return f"{label} ({shown_text(node_id)})" if node.get("name") and node_id else label


def owner_of(field_node):
    """The element a camunda:formField belongs to: its nearest ancestor with an id."""
    owner = field_node.getparent()
    while owner.getparent() is not None and not owner.get("id"):
        owner = owner.getparent()
    return owner


def field_where(field_node, owner=None) -> Message:
    """ "formulierveld 'x' van 'Taak' (id)": how a problem names a form field."""
    return Message(
        N_("formulierveld '{field}' van {task}"),
        field=shown_text(field_node.get("id") or ""),
        task=element_named(owner if owner is not None else owner_of(field_node)),
    )


def lint_fields(name: str, root) -> list[Problem]:
    """Every key of every camunda:formField in the BPMN file `name` (parsed root `root`) that
    the product does not read: an unknown property, validation rule, attribute or Camunda
    element, each a Problem at its line in Dutch naming the field, its task and the key, with
    the known keys and a suggestion for a near miss. Never raises on schema-valid input."""
    problems = []
    for field_node in root.xpath("//camunda:formField", namespaces=NS):
        where = field_where(field_node)
        message = _default_problem(field_node, where)
        if message is not None:
            problems.append(Problem(name, _line(field_node), message))
        for node, message in _constraint_problems(field_node, where):
            problems.append(Problem(name, _line(node), message))
        for node, kind, key, known in _unknown_keys(field_node):
            problems.append(
                Problem(
                    name,
                    _line(node),
                    Message(
                        N_(
                            "{where}: het product kent {what} '{key}' niet en zou die stil negeren{hint} "
                            "(bekend: {known})"
                        ),
                        where=where,
                        what=_WHAT[kind],
                        key=shown_text(key),
                        hint=hint(key, known),
                        known=joined(shown_text(k) for k in known),
                    ),
                )
            )
    return problems


def _constraint_problems(field_node, where: Message) -> list[tuple[object, Message]]:
    """(node, message) for each maxlength, min or max constraint whose config forms.fields_of
    cannot take as it stands: forms._int reads a config that is no whole number as no rule at
    all (maxlength "abc" or "" fell back to the default length in silence) and took "-5" as a
    maximum length no answer meets (issue 14, a fresh tester). maxlength must be a positive
    whole number, min and max a whole number ("-5" is a bound on a number)."""
    found: list[tuple[object, Message]] = []
    for node in field_node.xpath("camunda:validation/camunda:constraint", namespaces=NS):
        rule = node.get("name") or ""
        if rule not in NUMBER_CONSTRAINTS:
            continue
        config = node.get("config")
        pattern = r"[0-9]+" if rule == "maxlength" else r"-?[0-9]+"
        if config is not None and re.fullmatch(pattern, config) and (rule != "maxlength" or int(config) > 0):
            continue
        found.append((node, Message(
            N_("{where}: validatieregel '{rule}' heeft config '{config}', maar het product leest "
               "daar alleen {number}; het zou de regel nu stil overslaan of verkeerd toepassen"),
            where=where, rule=rule, config=shown_text(config or ""),
            number=NUMBER_WORDS[rule])))
    return found


def _unknown_keys(field_node) -> list[tuple[object, str, str, tuple[str, ...]]]:
    """(node, kind, key, known keys) for each key of a field the product does not read."""
    found: list[tuple[object, str, str, tuple[str, ...]]] = []
    for attribute in field_node.attrib:
        if etree.QName(attribute).namespace is None and attribute not in ATTRIBUTES:
            found.append((field_node, "attribute", attribute, ATTRIBUTES))
    options = [v.get("id") or "" for v in field_node.xpath("camunda:value", namespaces=NS)]
    properties = (*PROPERTIES, *(OPTION_HELP + option for option in options if option))
    for holder in [field_node, *field_node.xpath("camunda:properties | camunda:validation", namespaces=NS)]:
        allowed = CHILDREN[etree.QName(holder).localname]
        for child in holder:
            if not isinstance(child.tag, str) or etree.QName(child).namespace != CAMUNDA_NS:
                continue  # comments; another tool's extension is not ours to judge
            local = etree.QName(child).localname
            if local not in allowed:
                found.append((child, "element", local, allowed))
            elif local == "property" and (child.get("id") or "") not in properties:
                found.append((child, "property", child.get("id") or "", properties))
            elif local == "constraint" and (child.get("name") or "") not in CONSTRAINTS:
                found.append((child, "constraint", child.get("name") or "", CONSTRAINTS))
    return found


def _default_problem(field_node, where: Message) -> Message | None:
    """A defaultValue the product would pass over without a word (form_choices.default_of):
    one that is not 'true' or 'false' on a ja/nee-veld (`defaultValue="nee"`), or one on any
    other field. Nothing would be recorded for a field left empty, so a gateway or condition
    that reads it could not be worked out (before, only the proof of every route found that,
    in other words). None when the product reads it or there is none."""
    value = field_node.get("defaultValue")
    if value is None:
        return None
    kind = field_node.get("type") or ""
    if kind != "boolean":
        return Message(
            N_(
                "{where} heeft defaultValue '{value}', maar het product leest een standaardwaarde "
                "alleen bij een ja/nee-veld (type boolean: 'true' of 'false'); bij type '{type}' zou "
                "het die stil negeren. Laat defaultValue weg"
            ),
            where=where,
            value=shown_text(value),
            type=shown_text(kind, 40),
        )
    text = value.strip().lower()
    if text in DEFAULT_VALUES:
        return None
    meant = "true" if text in YES_WORDS else "false" if text in NO_WORDS else None
    return Message(
        N_(
            "{where} heeft defaultValue '{value}', maar een ja/nee-veld kent als standaardwaarde "
            "alleen 'true' of 'false': het product zou '{value}' stil negeren en bij een leeg "
            "antwoord niets vastleggen, zodat een voorwaarde die het veld leest niet kan worden "
            "uitgerekend{hint}"
        ),
        where=where,
        value=shown_text(value),
        hint=Message(N_("; bedoelt u {suggestion}?"), suggestion=f"'{meant}'") if meant else "",
    )
