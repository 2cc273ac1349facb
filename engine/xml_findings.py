"""The errors of the libraries that read a definition file, in our own words: libxml2's syntax
errors (engine.definition_xml.parse_xml), its XSD errors (definition_xml.xsd_problems) and
SpiffWorkflow's parser errors (the last layer of engine.definitions.check).

Issue 12 point 4: a finding is read in the reader's language (Dutch, or English when the reader
asks), so no finding may carry a library's English sentence. Each error is recognised by its
kind (libxml2's error type, e.g. ERR_TAG_NAME_MISMATCH or SCHEMAV_CVC_COMPLEX_TYPE_4; the text
of SpiffWorkflow's ValidationException), the names it mentions (element, attribute, value, id)
are taken out of its text, and a Message of the catalogues is made of them. A kind not known
here gets a general message that still names what can be named; the line stays the Problem's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Formatter
from typing import Any

from lxml import etree

from .messages import N_, Message
from .problems import shown_text

# libxml2's error codes by name (lxml.etree.ErrorTypes), to find the kind of a syntax error.
_TYPE_NAMES: dict[int, str] = {
    value: name for name, value in vars(etree.ErrorTypes).items()
    if name.isupper() and isinstance(value, int)}

Rule = tuple[str, Message]  # (regular expression searched in the library's text, our text)


def type_name(code: int) -> str:
    """libxml2's name of an error code (lxml's type_name), e.g. 76 -> ERR_TAG_NAME_MISMATCH."""
    return _TYPE_NAMES.get(code, str(code))


def _local(name: str) -> str:
    """A name without its namespace: '{http://...}userTask' -> 'userTask'."""
    return re.sub(r"\{[^}]*\}", "", name)


def _needs(template: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(template) if field}


def _first(rules: list[Rule], text: str, given: Mapping[str, Any]) -> Message | None:
    """The first rule whose expression is found in `text` and whose names are all known."""
    for pattern, message in rules:
        found = re.search(pattern, text, flags=re.S)
        if found is None:
            continue
        # a value libxml2 quotes is the file's text: one line (problems.shown_text); the cut is
        # generous, the schema's list of expected elements is long
        values = {**given, **{k: shown_text(_local(v), 1000) for k, v in found.groupdict().items() if v}}
        if all(values.get(name) not in (None, "") for name in _needs(message.template)):
            return Message(message.template, **{k: values[k] for k in _needs(message.template)})
    return None


# --- libxml2: well-formedness ------------------------------------------------------------------

SYNTAX: dict[str, list[Rule]] = {
    "ERR_TAG_NAME_MISMATCH": [
        (r"mismatch: (?P<open>\S+) line (?P<start>\d+) and (?P<close>[^\s,]+)",
         N_("de eindtag </{close}> past niet bij de begintag <{open}> van regel {start}")),
        (r"", N_("een eindtag past niet bij zijn begintag"))],
    "ERR_TAG_NOT_FINISHED": [
        (r"in tag (?P<open>\S+) line (?P<start>\d+)",
         N_("het bestand houdt op terwijl <{open}> van regel {start} nog open is")),
        (r"", N_("het bestand houdt op terwijl een element nog open is"))],
    "ERR_DOCUMENT_END": [(r"", N_(
        "na het hoofdelement staat nog inhoud; een XML-bestand heeft één hoofdelement"))],
    "ERR_DOCUMENT_EMPTY": [(r"", N_("er staat geen XML-element in het bestand ('<' verwacht)"))],
    "ERR_ATTRIBUTE_REDEFINED": [
        (r"Attribute (?P<attribute>\S+) redefined",
         N_("attribuut '{attribute}' staat twee keer in hetzelfde element"))],
    "ERR_UNDECLARED_ENTITY": [
        (r"Entity '(?P<entity>[^']*)'",
         N_("entiteit '&{entity};' bestaat niet (schrijf een & als &amp;)"))],
    "ERR_NAME_REQUIRED": [
        (r"EntityRef", N_("een '&' zonder naam erachter (schrijf een & als &amp;)")),
        (r"", N_("na '<' staat geen geldige elementnaam (schrijf een < als &lt;)"))],
    "ERR_LT_IN_ATTRIBUTE": [(r"", N_(
        "een '<' in de waarde van een attribuut (schrijf een < als &lt;, of sluit de waarde af "
        "met een aanhalingsteken)"))],
    "ERR_GT_REQUIRED": [
        (r"end of Start Tag (?P<open>\S+)", N_("de begintag <{open}> is niet afgesloten met '>'")),
        (r"", N_("een tag is niet afgesloten met '>'"))],
    "ERR_SPACE_REQUIRED": [(r"attributes construct", N_(
        "de attributen van een element zijn niet goed geschreven (naam=\"waarde\", met spaties "
        "ertussen)"))],
    "ERR_ATTRIBUTE_WITHOUT_VALUE": [
        (r"for attribute (?P<attribute>[^\s,]+)",
         N_("attribuut '{attribute}' heeft geen waarde (naam=\"waarde\")"))],
    "ERR_ATTRIBUTE_NOT_STARTED": [(r"", N_(
        "de waarde van een attribuut staat niet tussen aanhalingstekens"))],
    "ERR_ATTRIBUTE_NOT_FINISHED": [(r"", N_(
        "de waarde van een attribuut is niet afgesloten met een aanhalingsteken"))],
    "ERR_INVALID_CHAR": [
        (r"[Cc]har value (?P<char>\d+)", N_("teken nummer {char} mag niet in een XML-bestand staan")),
        (r"", N_("het bestand bevat een teken dat niet in XML mag staan"))],
    "ERR_INVALID_ENCODING": [(r"", N_(
        "de tekens van het bestand passen niet bij zijn tekenset (UTF-8 verwacht)"))],
    "ERR_UNSUPPORTED_ENCODING": [
        (r"encoding:? (?P<encoding>[^\s,]+)", N_("onbekende tekenset '{encoding}' (UTF-8 verwacht)"))],
    "NS_ERR_UNDEFINED_NAMESPACE": [
        (r"prefix (?P<prefix>\S+) for (?P<attribute>\S+) on (?P<element>\S+)", N_(
            "het voorvoegsel '{prefix}' van attribuut '{attribute}' van element '{element}' is "
            "niet gedeclareerd (xmlns:{prefix} ontbreekt)")),
        (r"prefix (?P<prefix>\S+) on (?P<element>\S+)", N_(
            "het voorvoegsel '{prefix}' van element '{element}' is niet gedeclareerd "
            "(xmlns:{prefix} ontbreekt)"))],
    "NS_ERR_QNAME": [(r"QName '(?P<name>[^']*)'", N_("'{name}' is geen geldige naam"))],
    "NS_ERR_XML_NAMESPACE": [(r"", N_("een namespace-declaratie (xmlns) is ongeldig"))],
    "ERR_HYPHEN_IN_COMMENT": [(r"", N_("'--' mag niet in een commentaar staan"))],
    "ERR_COMMENT_NOT_FINISHED": [(r"", N_("een commentaar is niet afgesloten met '-->'"))],
    "ERR_CDATA_NOT_FINISHED": [(r"", N_("een CDATA-blok is niet afgesloten met ']]>'"))],
    "ERR_RESERVED_XML_NAME": [(r"", N_(
        "de XML-declaratie (<?xml ...?>) mag alleen helemaal aan het begin van het bestand staan"))],
    "ERR_INVALID_HEX_CHARREF": [(r"", N_("een tekenverwijzing (&#...;) is ongeldig"))],
    "ERR_INVALID_DEC_CHARREF": [(r"", N_("een tekenverwijzing (&#...;) is ongeldig"))],
    "ERR_UNKNOWN_VERSION": [(r"", N_("onbekende XML-versie (alleen 1.0)"))],
}
SYNTAX_OTHER = N_("de opbouw van de XML klopt hier niet (kolom {column}, libxml2-fout {code})")


def syntax_reason(exc: etree.XMLSyntaxError) -> Message:
    """What is wrong in a file that is not well-formed XML, in our words: a Message made from
    libxml2's error type (exc.code) and the names in its text; libxml2's own English sentence
    is never part of it. Raises nothing."""
    name = type_name(exc.code)
    found = _first(SYNTAX.get(name, []), exc.msg or "", {})
    column = exc.position[1] if exc.position else 0
    return found or Message(SYNTAX_OTHER.template, column=column or "?", code=name)


# --- libxml2: the XSD ------------------------------------------------------------------------

_EXPECTED = r"Expected is (?:one of )?\( (?P<expected>.*?) \)"
_CONTENT: list[Rule] = [
    (r"This element is not expected\. " + _EXPECTED, N_("{where} hoort hier niet; verwacht: {expected}")),
    (r"This element is not expected", N_("{where} hoort hier niet")),
    (r"Missing child element\(s\)\. " + _EXPECTED,
     N_("{where} mist een onderliggend element; verwacht: {expected}")),
    (r"Missing child element", N_("{where} mist een onderliggend element")),
]
_DATATYPE: list[Rule] = [
    (r"^'' is not a valid value", N_("{where} is leeg, maar moet een waarde hebben")),
    (r"QName value '(?P<value>[^']*)' has no corresponding namespace",
     N_("'{value}' bij {where} heeft een voorvoegsel dat niet is gedeclareerd")),
    (r"'(?P<value>[^']*)' is not a valid value of the \w+ type 'xs:ID'", N_(
        "'{value}' bij {where} is geen geldige id (letters, cijfers, _, - en ., beginnend met een "
        "letter of _)")),
    (r"'(?P<value>.*)' is not a valid value of the (?:\w+ )*type '(?P<type>[^']*)'",
     N_("'{value}' is geen geldige waarde voor {where} (type {type})")),
    (r"'(?P<value>.*)' is not a valid value of the (?:\w+ )*type",
     N_("'{value}' is geen geldige waarde voor {where}")),
]
_FACET = [(r"value '(?P<value>[^']*)'",
           N_("'{value}' heeft niet de vorm die het schema voor {where} vraagt"))]
SCHEMA: dict[str, list[Rule]] = {
    "SCHEMAV_ELEMENT_CONTENT": _CONTENT,
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": _CONTENT,
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": [(r"", N_("{where} is hier niet toegestaan"))],
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": [(r"", N_("{where} is hier niet toegestaan"))],
    "SCHEMAV_CVC_COMPLEX_TYPE_4": [(r"attribute '(?P<missing>[^']*)' is required",
                                    N_("{where} mist het verplichte attribuut '{missing}'"))],
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1": [(r"", N_("{where} moet leeg zijn"))],
    "SCHEMAV_CVC_COMPLEX_TYPE_2_2": [(r"", N_("{where} mag alleen tekst bevatten, geen elementen"))],
    "SCHEMAV_CVC_TYPE_3_1_2": [(r"", N_("{where} mag alleen tekst bevatten, geen elementen"))],
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": [(r"", N_("{where} mag geen tekst bevatten, alleen elementen"))],
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": _DATATYPE,
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_2": _DATATYPE,
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_3": _DATATYPE,
    "SCHEMAV_CVC_ENUMERATION_VALID": [
        (r"value '(?P<value>[^']*)' is not an element of the set \{(?P<allowed>.*)\}",
         N_("'{value}' is geen toegestane waarde voor {where}; toegestaan: {allowed}"))],
    "SCHEMAV_CVC_PATTERN_VALID": _FACET,
    "SCHEMAV_CVC_LENGTH_VALID": _FACET,
    "SCHEMAV_CVC_MINLENGTH_VALID": _FACET,
    "SCHEMAV_CVC_MAXLENGTH_VALID": _FACET,
    "SCHEMAV_CVC_MININCLUSIVE_VALID": _FACET,
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": _FACET,
    "SCHEMAV_CVC_ELT_1": [(r"", N_("{where} is geen element dat het schema kent"))],
    "SCHEMAV_CVC_IDC": [
        (r"Duplicate key-sequence \['(?P<value>[^']*)'\]",
         N_("'{value}' komt meer dan eens voor ({where})")),
        (r"No match found for key-sequence \['(?P<value>[^']*)'\]",
         N_("'{value}' bij {where} verwijst naar iets dat niet bestaat"))],
}
WHERE_ELEMENT = N_("element '{element}'")
WHERE_ATTRIBUTE = N_("attribuut '{attribute}' van element '{element}'")
SCHEMA_OTHER = N_("{where} voldoet niet aan het schema")
SCHEMA_NOWHERE = N_("het bestand voldoet hier niet aan het schema")
DUPLICATE_ID = N_("id '{value}' komt meer dan eens voor in het bestand ({where})")
_NCNAME = re.compile(r"[^\W\d][\w.\-]*")


def schema_reason(kind: str, text: str) -> Message:
    """What a schema error says, in our words: `kind` is libxml2's type name (err.type_name,
    e.g. SCHEMAV_CVC_COMPLEX_TYPE_4), `text` its message (err.message), from which the element,
    attribute and value are taken (without namespaces). Raises nothing."""
    head = re.match(r"Element '(?P<element>[^']*)'(?:, attribute '(?P<attribute>[^']*)')?: ",
                    text)
    if head is None:
        return SCHEMA_NOWHERE
    element, attribute = _local(head["element"]), head["attribute"]
    where = (Message(WHERE_ATTRIBUTE.template, attribute=_local(attribute), element=element)
             if attribute else Message(WHERE_ELEMENT.template, element=element))
    rest = text[head.end():]
    duplicate = re.search(r"'([^']*)' is not a valid value of the \w+ type 'xs:ID'", rest)
    if duplicate and _NCNAME.fullmatch(duplicate[1]):  # libxml2 says a repeated id is invalid
        return Message(DUPLICATE_ID.template, value=duplicate[1], where=where)
    found = _first(SCHEMA.get(kind, []), rest, {"where": where})
    if found is None:
        return Message(SCHEMA_OTHER.template, where=where)
    for name in ("expected", "allowed"):  # lists of names: without namespaces and quotes
        if name in found.params:
            found = Message(found.template, **{**found.params, name: ", ".join(
                part.strip(" '") for part in found.params[name].split(","))})
    return found


# --- SpiffWorkflow's parser ------------------------------------------------------------------

# The element a "... identifier is missing from bpmn xml" is about.
MISSING_ID = {"Message": "message", "Signal": "signal", "Error": "error",
              "Escalation": "escalation", "Correlation": "correlationProperty",
              "Data Store": "dataStore"}
SPIFF: list[Rule] = [
    (r"Duplicate process ID: (?P<process>\S+?)\.?$",
     N_("proces '{process}' staat meer dan eens in de set")),
    (r"^(?:Message|Signal|Error|Escalation|Correlation|Data Store) identifier is missing",
     N_("een element '{element}' heeft geen id")),
    (r"^Data Store name is missing", N_("een gegevensopslag (dataStore) heeft geen naam")),
    (r"^Data Store with name (?P<name>.*) has no implementation", N_(
        "gegevensopslag '{name}' bestaat niet: het product bewaart gegevens alleen in de casus")),
    (r"^Cannot resolve (?P<association>data(?:Input|Output)Association)",
     N_("{association} van '{id}' verwijst naar een gegevensobject dat niet bestaat")),
    (r"^No start event found", N_("proces '{id}' heeft geen startgebeurtenis")),
    (r"^Process (?P<process>\S+) is not executable",
     N_("proces '{process}' is niet uitvoerbaar (isExecutable)")),
    (r"^Non-default exclusive outgoing sequence flow without condition",
     N_("stroom '{id}' uit een exclusieve gateway heeft geen voorwaarde en is niet de "
        "standaardstroom")),
    (r'^No "calledElement" attribute', N_("aanroepactiviteit '{id}' mist het attribuut "
                                         "calledElement")),
    (r"^The process '(?P<process>[^']*)' was not found",
     N_("proces '{process}' bestaat niet in de set")),
    (r"^Unknown Time Specification", N_("de timer van '{id}' zegt niet wanneer hij afgaat")),
    (r"^Time Specification Error", N_("de timer van '{id}' heeft geen geldige tijdsaanduiding")),
    (r"^Could not find messageRef from message event definition: (?P<ref>\S+?)\.?$",
     N_("een berichtgebeurtenis verwijst naar bericht '{ref}', dat niet bestaat")),
    (r"^There is no support implemented for this task type",
     N_("'{id}' is een soort element ({tag}) dat de engine niet kan uitvoeren")),
    (r"^Invalid Script Task", N_("scripttaak '{id}' heeft geen script")),
    (r"^Conditional event definition with missing condition",
     N_("voorwaardelijke gebeurtenis '{id}' heeft geen voorwaarde")),
    (r"^Exactly one start event is required in a SubWorkflow",
     N_("subproces '{id}' moet precies één startgebeurtenis hebben")),
    (r"^A SubWorkflow Must contain an End event", N_("subproces '{id}' heeft geen eindgebeurtenis")),
    (r"^Multiple outgoing flows are not supported",
     N_("'{id}' heeft meer dan één uitgaande stroom; dat kan bij dit soort element niet")),
    (r"^Expected an? (?P<kind>Error|Escalation|Message|Signal) node",
     N_("'{id}' verwijst naar een element '{element}' dat niet bestaat")),
    (r"^No DMN Diagram available with id \"(?P<table>[^\"]*)\"",
     N_("beslistabel '{table}' ontbreekt in de set")),
    (r"^No decisions found", N_("het DMN-bestand bevat geen beslissing")),
    (r"^Multiple decision tables are not current", N_(
        "het DMN-bestand bevat meer dan één beslissing; de engine leest er één per bestand")),
    (r"^Malformed Output Expression '(?P<value>.*?)'\.",
     N_("uitvoercel '{value}' is geen geldige uitdrukking")),
]
SPIFF_ELEMENT = N_("de engine kan element '{id}' ({tag}) niet verwerken")
SPIFF_TAG = N_("de engine kan een element {tag} niet verwerken")
SPIFF_OTHER = N_("de engine kan de procesdefinitie niet verwerken")


def spiff_reason(exc: BaseException) -> Message:
    """What SpiffWorkflow's parser refused, in our words: its ValidationException's first line
    recognised, the element named by the exception's id and tag (attributes of SpiffWorkflow's
    ValidationException). A Message in the exception or what caused it (our own timer check,
    wrapped by SpiffWorkflow's TaskParser) is used as it is. Raises nothing."""
    for cause in (exc, exc.__cause__, exc.__context__):
        if cause is not None and cause.args and isinstance(cause.args[0], Message):
            return cause.args[0]
    first = str(exc).splitlines()[0].strip() if str(exc).strip() else ""
    given = {"id": getattr(exc, "id", "") or "", "tag": getattr(exc, "tag", "") or ""}
    missing = re.match(r"(Message|Signal|Error|Escalation|Correlation|Data Store) identifier",
                       first)
    kind = re.match(r"Expected an? (\w+) node", first)
    if missing:
        given["element"] = MISSING_ID[missing[1]]
    elif kind:
        given["element"] = MISSING_ID.get(kind[1], kind[1].lower())
    found = _first(SPIFF, first, given)
    if found is not None:
        return found
    if given["id"]:
        return Message(SPIFF_ELEMENT.template, id=given["id"], tag=given["tag"] or "?")
    if given["tag"]:
        return Message(SPIFF_TAG.template, tag=given["tag"])
    return SPIFF_OTHER


def _sought(exc: BaseException) -> tuple[str | None, str, str | None] | None:
    """(local name or None for any, attribute, its value or None for absent) of the element a
    SpiffWorkflow error is about, as far as its id or text says."""
    element_id = getattr(exc, "id", "") or ""
    if element_id:
        return None, "id", element_id
    text = str(exc)
    missing = re.match(r"(Message|Signal|Error|Escalation|Correlation|Data Store) identifier",
                       text)
    if missing:
        return MISSING_ID[missing[1]], "id", None
    if text.startswith("Data Store name is missing"):
        return "dataStore", "name", None
    named = re.match(r"Data Store with name (.*) has no implementation", text)
    if named:
        return "dataStore", "name", named[1]
    return None


def spiff_line(exc: BaseException, content: bytes, options: Mapping[str, Any]) -> int:
    """The line of the element a SpiffWorkflow error is about, in the file's `content` read
    with the parser `options`: the line SpiffWorkflow gave, else the element with the error's
    id, else the first element of the kind its text names (a dataStore without a name, a
    message without an id, ...); 1 when none is found. Raises nothing."""
    line = getattr(exc, "line_number", "")
    if isinstance(line, int) and line > 0:
        return line
    sought = _sought(exc)
    if sought is None:
        return 1
    try:
        root = etree.fromstring(content, etree.XMLParser(**options))
    except (etree.XMLSyntaxError, ValueError):
        return 1
    kind, attribute, value = sought
    for node in root.iter(etree.Element):
        if (kind is None or etree.QName(node).localname == kind) and \
                node.get(attribute) == value:
            return node.sourceline or 1
    return 1
