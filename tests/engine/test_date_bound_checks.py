"""A date field's bound in the diagram (not_after / not_before "today", engine/forms.py) written
wrongly is refused by `meldcode check`, the deploy API and the modeler's check, in Dutch, naming
the element and the field (engine/bpmn_checks.py). The form reads such a bound only on a date
field, only its first copy and only the value "today": before this check, "tomorow",
"gisteren" or the bound on a text field was deployed and silently ignored, leaving the date
open."""

import io

import pytest
from lxml import etree

from engine import bpmn_checks, process_admin
from engine.definitions import CAMUNDA_NS, NS, SourceFile
from tests.conftest import ROOT, People, meldcode_cli

SHIPPED_BPMN = ROOT / "processes" / "meldcode.bpmn"
SHIPPED_DMN = ROOT / "processes" / "afwegingskader.dmn"
C = f"{{{CAMUNDA_NS}}}"


def shipped_tree():
    return etree.fromstring(SHIPPED_BPMN.read_bytes())


def form_field(root, key):
    return root.xpath(f"//camunda:formField[@id='{key}']", namespaces=NS)[0]


def bound(root, key, prop):
    """The property `prop` (not_after, not_before) of field `key`."""
    return form_field(root, key).xpath(f"camunda:properties/camunda:property[@id='{prop}']", namespaces=NS)[0]


def add_bound(root, key, prop, value):
    """Give field `key` the property `prop` = `value`, after its other properties."""
    properties = form_field(root, key).find(C + "properties")
    etree.SubElement(properties, C + "property", id=prop, value=value)


def set_value(value):
    def plant(root):
        bound(root, "igj_melddatum", "not_after").set("value", value)

    return plant


def planted_before(root):
    bound(root, "hulp_evaluatiedatum", "not_before").set("value", "gisteren")


def on_a_text_field(root):
    add_bound(root, "gesprek_met", "not_after", "today")


def on_a_yes_no_field(root):
    add_bound(root, "vermoeden", "not_before", "today")


def twice_the_same(root):
    add_bound(root, "datum_waarneming", "not_after", "today")


def twice_differing(root):
    add_bound(root, "hulp_evaluatiedatum", "not_before", "tomorrow")


# plant, the field's task (id and label), the field, words of the message
PLANTED = {
    "tomorow": (
        set_value("tomorow"),
        "melding_igj",
        "'Melding aan de IGJ (Wkkgz)'",
        "igj_melddatum",
        ("not_after", "alleen de waarde 'today'", "niet 'tomorow'", "vandaag of eerder"),
    ),
    "empty": (
        set_value(""),
        "melding_igj",
        "'Melding aan de IGJ (Wkkgz)'",
        "igj_melddatum",
        ("not_after", "niet ''"),
    ),
    "Today": (
        set_value(" Today "),
        "melding_igj",
        "'Melding aan de IGJ (Wkkgz)'",
        "igj_melddatum",
        ("not_after", "niet ' Today '"),
    ),
    "gisteren": (
        planted_before,
        "hulp_organiseren",
        "'Hulp bieden of organiseren'",
        "hulp_evaluatiedatum",
        ("not_before", "niet 'gisteren'", "vandaag of later"),
    ),
    "text field": (
        on_a_text_field,
        "stap3_gesprek",
        "'Stap 3: Gesprek met de cliënt'",
        "gesprek_met",
        ("not_after", "alleen voor een datumveld"),
    ),
    "yes/no field": (
        on_a_yes_no_field,
        "stap4_wegen",
        "'Stap 4: Wegen'",
        "vermoeden",
        ("not_before", "alleen voor een datumveld"),
    ),
    "twice the same": (
        twice_the_same,
        "stap1_signalen",
        "'Stap 1: Signalen in kaart brengen'",
        "datum_waarneming",
        ("not_after", "meer dan eens"),
    ),
    "twice differing": (
        twice_differing,
        "hulp_organiseren",
        "'Hulp bieden of organiseren'",
        "hulp_evaluatiedatum",
        ("not_before", "meer dan eens"),
    ),
}


def planted(case: str) -> bytes:
    root = shipped_tree()
    PLANTED[case][0](root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def inside(content: bytes, line: int, element_id: str) -> bool:
    """Whether `line` lies within the element `element_id` of `content`."""
    element = etree.fromstring(content).xpath(f"//*[@id='{element_id}']")[0]
    last = max(node.sourceline for node in element.iter())
    return element.sourceline <= line <= last


@pytest.fixture
def cli_env(tmp_path):
    return {
        "MELDCODE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "MELDCODE_INSTANCE": str(tmp_path / "instance"),
    }


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_meldcode_check_refuses_a_wrong_date_bound(case, cli_env, tmp_path):
    _, task, label, key, words = PLANTED[case]
    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(planted(case))
    r = meldcode_cli("check", str(path), str(SHIPPED_DMN), env=cli_env)
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    hits = [line for line in r.stdout.splitlines() if all(w in line for w in words)]
    assert len(hits) == 1, r.stdout
    file, number, message = hits[0].split(":", 2)
    assert file == str(path) and inside(path.read_bytes(), int(number), key)
    assert message.startswith(f" formulierveld '{key}' van {label}"), message
    assert inside(path.read_bytes(), int(number), task)


def test_deploy_api_and_the_modeler_refuse_a_wrong_date_bound(sqlite_url):
    from webui import create_app

    client, people = create_app({"TESTING": True}).test_client(), People(sqlite_url)
    body = planted("gisteren")
    r = client.post(
        "/api/v1/processes",
        data={
            "files": [
                (io.BytesIO(body), "meldcode.bpmn"),
                (io.BytesIO(SHIPPED_DMN.read_bytes()), SHIPPED_DMN.name),
            ]
        },
        headers=people.auth("pb"),
        content_type="multipart/form-data",
    )
    assert r.status_code == 422, r.get_data(as_text=True)
    assert [
        e["message"]
        for e in r.json["errors"]
        if "niet 'gisteren'" in e["message"] and "'hulp_evaluatiedatum'" in e["message"]
    ], r.json
    listed = client.get("/api/v1/processes", headers=people.auth("pb")).json
    assert [v["version"] for v in listed] == [1]
    # "Controleren" in the modeler, and its English reader
    result = process_admin.check_edited(people["pb"], {"bpmn": body.decode("utf-8")})
    assert result["ok"] is False
    assert [
        p
        for p in result["problems"]
        if "not_before" in p["message"] and "'hulp_evaluatiedatum'" in p["message"]
    ], result["problems"]
    r = client.post(
        "/api/v1/processes",
        data={
            "files": [
                (io.BytesIO(body), "meldcode.bpmn"),
                (io.BytesIO(SHIPPED_DMN.read_bytes()), SHIPPED_DMN.name),
            ]
        },
        headers={**people.auth("pb"), "Accept-Language": "en"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert [
        e["message"]
        for e in r.json["errors"]
        if "only the value 'today'" in e["message"] and "not 'gisteren'" in e["message"]
    ], r.json


def test_both_bounds_today_is_only_today_and_passes():
    """not_after and not_before "today" on one field are no contradiction (only today is
    taken): that field passes, while a wrong bound beside it is the one finding."""
    root = shipped_tree()
    add_bound(root, "melding_datum", "not_before", "today")
    set_value("tomorow")(root)
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    problems = bpmn_checks.lint(SourceFile("meldcode.bpmn", content), etree.fromstring(content))
    assert len(problems) == 1, [str(p) for p in problems]
    assert "'igj_melddatum'" in str(problems[0]) and "niet 'tomorow'" in str(problems[0])
