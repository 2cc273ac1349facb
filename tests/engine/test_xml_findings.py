"""Every kind of libxml2 error that engine.xml_findings knows gives its own Dutch text, made
from the names in libxml2's message, and none of libxml2's English (issue 12 point 4). The
errors are libxml2's own: real broken documents, read by the hardened parser of a deploy
(definition_xml.parse_xml) or validated against the BPMN XSD (definition_xml.xsd_problems) or a
small XSD for the kinds BPMN's schema cannot show."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine import xml_findings
from engine.definition_xml import XML_PARSER_OPTIONS, parse_xml, xsd_problems
from engine.definitions import SourceFile
from engine.messages import Message
from tests.conftest import ROOT

MELDCODE = (ROOT / "processes" / "meldcode.bpmn").read_text()
# Words of libxml2's and SpiffWorkflow's English messages.
LIBRARY = re.compile(r"\b(mismatch|Opening|Premature|expected|Expected|is not|not allowed|"
                     r"required|missing|redefined|defined|Entity|Unescaped|mandates|invalid|"
                     r"Invalid|Namespace|Failed|Double|Unsupported|Extra|Start tag|found|"
                     r"identifier|resolve|Cannot|value of|atomic type|content type)\b")

# libxml2 error type: (document, the Dutch text of the finding after "geen geldige XML: ")
SYNTAX = {
    "ERR_TAG_NAME_MISMATCH": (b"<a>\n<b></c></a>",
                              "de eindtag </c> past niet bij de begintag <b> van regel 2"),
    "ERR_TAG_NOT_FINISHED": (b"<a><b></b>", "het bestand houdt op terwijl <a> van regel 1 nog "
                                            "open is"),
    "ERR_DOCUMENT_END": (b"<a/><b/>", "na het hoofdelement staat nog inhoud; een XML-bestand "
                                      "heeft één hoofdelement"),
    "ERR_DOCUMENT_EMPTY": (b"geen xml", "er staat geen XML-element in het bestand ('<' "
                                        "verwacht)"),
    "ERR_ATTRIBUTE_REDEFINED": (b'<a id="1" id="2"/>',
                                "attribuut 'id' staat twee keer in hetzelfde element"),
    "ERR_UNDECLARED_ENTITY": (b"<a>&nbsp;</a>",
                              "entiteit '&nbsp;' bestaat niet (schrijf een & als &amp;)"),
    "ERR_NAME_REQUIRED": (b"<a>x & y</a>",
                          "een '&' zonder naam erachter (schrijf een & als &amp;)"),
    "ERR_LT_IN_ATTRIBUTE": (b'<a x="<"/>', "een '<' in de waarde van een attribuut (schrijf "
                            "een < als &lt;, of sluit de waarde af met een aanhalingsteken)"),
    "ERR_GT_REQUIRED": (b"<a></ a>", "een tag is niet afgesloten met '>'"),
    "ERR_SPACE_REQUIRED": (b'<a x="1"y="2"/>', 'de attributen van een element zijn niet goed '
                           'geschreven (naam="waarde", met spaties ertussen)'),
    "ERR_ATTRIBUTE_WITHOUT_VALUE": (b"<a naam/>",
                                    "attribuut 'naam' heeft geen waarde (naam=\"waarde\")"),
    "ERR_ATTRIBUTE_NOT_STARTED": (b"<a x=1/>", "de waarde van een attribuut staat niet tussen "
                                               "aanhalingstekens"),
    "ERR_ATTRIBUTE_NOT_FINISHED": (b"<a x='1", "de waarde van een attribuut is niet afgesloten "
                                               "met een aanhalingsteken"),
    "ERR_INVALID_CHAR": (b"<a>\x01</a>", "teken nummer 1 mag niet in een XML-bestand staan"),
    "ERR_INVALID_ENCODING": (b'<?xml version="1.0" encoding="UTF-8"?><a>\xc3</a>',
                             "de tekens van het bestand passen niet bij zijn tekenset (UTF-8 "
                             "verwacht)"),
    "ERR_UNSUPPORTED_ENCODING": (b'<?xml version="1.0" encoding="klingon"?><a/>',
                                 "onbekende tekenset 'klingon' (UTF-8 verwacht)"),
    "NS_ERR_UNDEFINED_NAMESPACE": (b"<bpmn:task/>", "het voorvoegsel 'bpmn' van element 'task' "
                                   "is niet gedeclareerd (xmlns:bpmn ontbreekt)"),
    "NS_ERR_QNAME": (b'<a:b:c xmlns:a="u"/>', "'a:b:c' is geen geldige naam"),
    "NS_ERR_XML_NAMESPACE": (b'<a xmlns:x=""/>', "een namespace-declaratie (xmlns) is "
                                                 "ongeldig"),
    "ERR_HYPHEN_IN_COMMENT": (b"<a><!-- x -- y --></a>", "'--' mag niet in een commentaar "
                                                         "staan"),
    "ERR_COMMENT_NOT_FINISHED": (b"<a><!-- x</a>", "een commentaar is niet afgesloten met "
                                                   "'-->'"),
    "ERR_CDATA_NOT_FINISHED": (b"<a><![CDATA[x</a>",
                               "een CDATA-blok is niet afgesloten met ']]>'"),
    "ERR_RESERVED_XML_NAME": (b'<a/><?xml version="1.0"?>', "de XML-declaratie (<?xml ...?>) "
                              "mag alleen helemaal aan het begin van het bestand staan"),
    "ERR_INVALID_HEX_CHARREF": (b"<a>&#xZZ;</a>", "een tekenverwijzing (&#...;) is ongeldig"),
    "ERR_INVALID_DEC_CHARREF": (b"<a>&#12a;</a>", "een tekenverwijzing (&#...;) is ongeldig"),
    "ERR_UNKNOWN_VERSION": (b'<?xml version="2.0"?><a/>', "onbekende XML-versie (alleen 1.0)"),
}


def libxml2_type(content: bytes) -> str:
    try:
        etree.fromstring(content, etree.XMLParser(**XML_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        return xml_findings.type_name(exc.code)
    raise AssertionError("well-formed")


def test_every_syntax_error_type_that_is_mapped_is_tested():
    assert set(SYNTAX) == set(xml_findings.SYNTAX)


@pytest.mark.parametrize("kind", sorted(SYNTAX))
def test_a_syntax_error_is_told_in_dutch_by_its_type(kind):
    content, dutch = SYNTAX[kind]
    assert libxml2_type(content) == kind
    root, problems = parse_xml(SourceFile("x.bpmn", content))
    assert root is None and len(problems) == 1
    assert problems[0].message == f"geen geldige XML: {dutch}"
    assert isinstance(problems[0].message, Message)
    assert not LIBRARY.search(problems[0].message), problems[0].message


def test_an_unknown_syntax_error_names_its_column_and_type_in_dutch():
    content = b"<a>&#1114112;</a>"  # a character reference out of range: ERR_INVALID_CHAR, text
    # libxml2's own; as if its type were unknown:
    try:
        etree.fromstring(content, etree.XMLParser(**XML_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        exc.code = etree.ErrorTypes.ERR_EXT_SUBSET_NOT_FINISHED
        reason = xml_findings.syntax_reason(exc)
    assert reason == ("de opbouw van de XML klopt hier niet (kolom 14, libxml2-fout "
                      "ERR_EXT_SUBSET_NOT_FINISHED)")


def bpmn(old: str, new: str) -> str:
    assert old in MELDCODE
    return MELDCODE.replace(old, new, 1)


# libxml2 error type: (BPMN file, the Dutch text after "schemafout: ")
SCHEMA_BPMN = {
    "SCHEMAV_ELEMENT_CONTENT": (
        bpmn("<bpmn:laneSet", '<bpmn:onzin/><bpmn:laneSet'),
        "element 'onzin' hoort hier niet; verwacht: documentation, extensionElements, "
        "supportedInterfaceRef, ioSpecification, ioBinding, auditing, monitoring, property, "
        "laneSet, flowElement"),
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": (
        bpmn('<bpmn:process id="meldcode"', '<bpmn:process kleur="rood" id="meldcode"'),
        "attribuut 'kleur' van element 'process' is hier niet toegestaan"),
    "SCHEMAV_CVC_COMPLEX_TYPE_4": (
        bpmn(' sourceRef="start_signalen"', ""),
        "element 'sequenceFlow' mist het verplichte attribuut 'sourceRef'"),
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": (
        bpmn('isExecutable="true"', 'isExecutable="ja"'),
        "'ja' is geen geldige waarde voor attribuut 'isExecutable' van element 'process' "
        "(type xs:boolean)"),
    "SCHEMAV_CVC_ENUMERATION_VALID": (
        bpmn('<bpmn:exclusiveGateway id="gw_gesprek_uitzondering"',
             '<bpmn:exclusiveGateway gatewayDirection="links" id="gw_gesprek_uitzondering"'),
        "'links' is geen toegestane waarde voor attribuut 'gatewayDirection' van element "
        "'exclusiveGateway'; toegestaan: Unspecified, Converging, Diverging, Mixed"),
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": (
        bpmn('<bpmn:laneSet id="meldcode_lanes">', '<bpmn:laneSet id="meldcode_lanes">tekst'),
        "element 'laneSet' mag geen tekst bevatten, alleen elementen"),
}
SMALL_XSD = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"
 xmlns:t="urn:t" elementFormDefault="qualified">
 <xs:element name="root"><xs:complexType><xs:sequence>
  <xs:element name="leeg" minOccurs="0"><xs:complexType/></xs:element>
  <xs:element name="tekst" type="xs:string" minOccurs="0"/>
  <xs:element name="eenvoudig" minOccurs="0"><xs:complexType><xs:simpleContent>
   <xs:extension base="xs:string"><xs:attribute name="a"/></xs:extension>
  </xs:simpleContent></xs:complexType></xs:element>
  <xs:element name="lijst" minOccurs="0"><xs:simpleType><xs:list itemType="xs:int"/>
  </xs:simpleType></xs:element>
  <xs:element name="keus" minOccurs="0"><xs:simpleType>
   <xs:union memberTypes="xs:int xs:boolean"/></xs:simpleType></xs:element>
  <xs:element name="item" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
   <xs:attribute name="key" type="xs:string"/><xs:attribute name="ref" type="xs:string"/>
   <xs:attribute name="code"><xs:simpleType><xs:restriction base="xs:string">
    <xs:pattern value="[A-Z]+"/></xs:restriction></xs:simpleType></xs:attribute>
   <xs:attribute name="twee"><xs:simpleType><xs:restriction base="xs:string">
    <xs:length value="2"/></xs:restriction></xs:simpleType></xs:attribute>
   <xs:attribute name="kort"><xs:simpleType><xs:restriction base="xs:string">
    <xs:maxLength value="2"/></xs:restriction></xs:simpleType></xs:attribute>
   <xs:attribute name="lang"><xs:simpleType><xs:restriction base="xs:string">
    <xs:minLength value="2"/></xs:restriction></xs:simpleType></xs:attribute>
   <xs:attribute name="klein"><xs:simpleType><xs:restriction base="xs:integer">
    <xs:maxInclusive value="5"/></xs:restriction></xs:simpleType></xs:attribute>
   <xs:attribute name="groot"><xs:simpleType><xs:restriction base="xs:integer">
    <xs:minInclusive value="5"/></xs:restriction></xs:simpleType></xs:attribute>
  </xs:complexType></xs:element>
 </xs:sequence></xs:complexType>
 <xs:key name="k"><xs:selector xpath="t:item"/><xs:field xpath="@key"/></xs:key>
 <xs:keyref name="r" refer="t:k"><xs:selector xpath="t:item"/><xs:field xpath="@ref"/></xs:keyref>
 </xs:element>
</xs:schema>"""
# libxml2 error type: (document for SMALL_XSD, the Dutch text)
SCHEMA_SMALL = {
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1": ("<root><leeg>x</leeg></root>",
                                     "element 'leeg' moet leeg zijn"),
    "SCHEMAV_CVC_COMPLEX_TYPE_2_2": ("<root><eenvoudig><b/></eenvoudig></root>",
                                     "element 'eenvoudig' mag alleen tekst bevatten, geen "
                                     "elementen"),
    "SCHEMAV_CVC_TYPE_3_1_2": ("<root><tekst><b/></tekst></root>",
                               "element 'tekst' mag alleen tekst bevatten, geen elementen"),
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_2": ("<root><lijst>1 2 x</lijst></root>",
                                         "'1 2 x' is geen geldige waarde voor element 'lijst'"),
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_3": ("<root><keus>soms</keus></root>",
                                         "'soms' is geen geldige waarde voor element 'keus'"),
    "SCHEMAV_CVC_PATTERN_VALID": ('<root><item key="a" code="ab"/></root>',
                                  "'ab' heeft niet de vorm die het schema voor attribuut 'code' "
                                  "van element 'item' vraagt"),
    "SCHEMAV_CVC_LENGTH_VALID": ('<root><item key="a" twee="abc"/></root>',
                                 "'abc' heeft niet de vorm die het schema voor attribuut 'twee' "
                                 "van element 'item' vraagt"),
    "SCHEMAV_CVC_MAXLENGTH_VALID": ('<root><item key="a" kort="abc"/></root>',
                                    "'abc' heeft niet de vorm die het schema voor attribuut "
                                    "'kort' van element 'item' vraagt"),
    "SCHEMAV_CVC_MINLENGTH_VALID": ('<root><item key="a" lang="a"/></root>',
                                    "'a' heeft niet de vorm die het schema voor attribuut "
                                    "'lang' van element 'item' vraagt"),
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": ('<root><item key="a" klein="9"/></root>',
                                       "'9' heeft niet de vorm die het schema voor attribuut "
                                       "'klein' van element 'item' vraagt"),
    "SCHEMAV_CVC_MININCLUSIVE_VALID": ('<root><item key="a" groot="1"/></root>',
                                       "'1' heeft niet de vorm die het schema voor attribuut "
                                       "'groot' van element 'item' vraagt"),
    "SCHEMAV_CVC_IDC": ('<root><item key="a"/><item key="a"/></root>',
                        "'a' komt meer dan eens voor (element 'item')"),
    "SCHEMAV_CVC_ELT_1": ("<ander></ander>", "element 'ander' is geen element dat het schema kent"),
}
# Kinds libxml2 gives for the BPMN schema only in cases not reproduced here: its message form.
SCHEMA_TEXT = {
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": (
        "Element '{urn:t}x': This element is not expected. Expected is ( {urn:t}y ).",
        "element 'x' hoort hier niet; verwacht: y"),
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": (
        "Element '{urn:t}x', attribute 'z': The attribute 'z' is not allowed.",
        "attribuut 'z' van element 'x' is hier niet toegestaan"),
}


def test_every_schema_error_type_that_is_mapped_is_tested():
    assert set(SCHEMA_BPMN) | set(SCHEMA_SMALL) | set(SCHEMA_TEXT) == set(xml_findings.SCHEMA)


@pytest.mark.parametrize("kind", sorted(SCHEMA_BPMN))
def test_a_bpmn_schema_error_is_told_in_dutch_by_its_type(kind):
    text, dutch = SCHEMA_BPMN[kind]
    root = etree.fromstring(text.encode())
    problems = xsd_problems(SourceFile("meldcode.bpmn", text.encode()), root)
    assert [p.message for p in problems] == [f"schemafout: {dutch}"]
    assert not LIBRARY.search(problems[0].message), problems[0].message


@pytest.mark.parametrize("kind", sorted(SCHEMA_SMALL))
def test_a_schema_error_is_told_in_dutch_by_its_type(kind):
    document, dutch = SCHEMA_SMALL[kind]
    schema = etree.XMLSchema(etree.fromstring(SMALL_XSD))
    root = etree.fromstring(document.replace(">", ' xmlns="urn:t">', 1).encode())
    assert not schema.validate(root)
    errors = [e for e in schema.error_log if e.type_name == kind]
    assert errors, [(e.type_name, e.message) for e in schema.error_log]
    reason = xml_findings.schema_reason(kind, errors[0].message)
    assert reason == dutch and isinstance(reason, Message)
    assert not LIBRARY.search(reason), reason


@pytest.mark.parametrize("kind", sorted(SCHEMA_TEXT))
def test_a_schema_error_in_libxml2s_words_is_told_in_dutch(kind):
    text, dutch = SCHEMA_TEXT[kind]
    assert xml_findings.schema_reason(kind, text) == dutch


def test_a_repeated_id_is_told_as_a_repeated_id():
    text = bpmn('id="stap2_overleg"', 'id="stap1_signalen"')
    problems = xsd_problems(SourceFile("meldcode.bpmn", text.encode()),
                            etree.fromstring(text.encode()))
    assert [p.message for p in problems] == [
        "schemafout: id 'stap1_signalen' komt meer dan eens voor in het bestand (attribuut 'id' "
        "van element 'userTask')"]


def test_an_unknown_schema_error_names_the_element_and_attribute_in_dutch():
    assert xml_findings.schema_reason(
        "SCHEMAV_CVC_AU", "Element '{urn:t}x', attribute 'y': Some new English sentence.") == \
        "attribuut 'y' van element 'x' voldoet niet aan het schema"
    assert xml_findings.schema_reason("SCHEMAV_MISC", "Something else entirely.") == \
        "het bestand voldoet hier niet aan het schema"


class Node:
    """The part of an lxml element SpiffWorkflow's ValidationException reads."""

    def __init__(self, tag: str, **attributes: str):
        self.tag, self.attributes = tag, attributes

    def get(self, name: str, default: str = "") -> str:
        return self.attributes.get(name, default)


BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
# SpiffWorkflow's message, the element it names (tag, id) or None: the Dutch text
SPIFF = [
    ("Duplicate process ID: meldcode", None, "proces 'meldcode' staat meer dan eens in de set"),
    ("Signal identifier is missing from bpmn xml", None, "een element 'signal' heeft geen id"),
    ("Data Store identifier is missing from bpmn xml", None,
     "een element 'dataStore' heeft geen id"),
    ("Data Store name is missing from bpmn xml", None,
     "een gegevensopslag (dataStore) heeft geen naam"),
    ("Data Store with name kast has no implementation", None,
     "gegevensopslag 'kast' bestaat niet: het product bewaart gegevens alleen in de casus"),
    ("Cannot resolve dataInputAssociation <Element x>", ("userTask", "stap1"),
     "dataInputAssociation van 'stap1' verwijst naar een gegevensobject dat niet bestaat"),
    ("No start event found", ("process", "p"), "proces 'p' heeft geen startgebeurtenis"),
    ("Process p is not executable.", ("process", "p"),
     "proces 'p' is niet uitvoerbaar (isExecutable)"),
    ("Non-default exclusive outgoing sequence flow without condition", ("sequenceFlow", "sf"),
     "stroom 'sf' uit een exclusieve gateway heeft geen voorwaarde en is niet de "
     "standaardstroom"),
    ('No "calledElement" attribute for Call Activity.', ("callActivity", "c"),
     "aanroepactiviteit 'c' mist het attribuut calledElement"),
    ("The process 'q' was not found. Did you mean one of the following: meldcode?", None,
     "proces 'q' bestaat niet in de set"),
    ("Unknown Time Specification", ("boundaryEvent", "t"),
     "de timer van 't' zegt niet wanneer hij afgaat"),
    ("Could not find messageRef from message event definition: m1", None,
     "een berichtgebeurtenis verwijst naar bericht 'm1', dat niet bestaat"),
    ("There is no support implemented for this task type.", ("manualTask", "h"),
     "'h' is een soort element (bpmn:manualTask) dat de engine niet kan uitvoeren"),
    ("Expected a Signal node", ("intermediateCatchEvent", "s"),
     "'s' verwijst naar een element 'signal' dat niet bestaat"),
    ("Some future English sentence", ("userTask", "u"),
     "de engine kan element 'u' (bpmn:userTask) niet verwerken"),
    ("Some future English sentence", None, "de engine kan de procesdefinitie niet verwerken"),
]


@pytest.mark.parametrize("text,element,dutch", SPIFF, ids=[s[0][:30] for s in SPIFF])
def test_a_spiffworkflow_error_is_told_in_dutch(text, element, dutch):
    node = Node(BPMN + element[0], id=element[1]) if element else None
    reason = xml_findings.spiff_reason(ValidationException(text, node=node))
    assert reason == dutch and isinstance(reason, Message)
    assert not LIBRARY.search(reason), reason
