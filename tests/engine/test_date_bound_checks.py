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
from engine.definitions import NS, SourceFile
from tests.conftest import People
from tests.diagram_edits import (
    SHIPPED_DMN,
    add_property,
    as_bytes,
    cli_finding,
    form_field,
    inside,
    planting,
    shipped_tree,
)


def bound(root, key, prop):
    """The property `prop` (not_after, not_before) of field `key`."""
    return form_field(root, key).xpath(f"camunda:properties/camunda:property[@id='{prop}']", namespaces=NS)[0]


def set_value(value):
    def plant(root):
        bound(root, "igj_melddatum", "not_after").set("value", value)

    return plant


def planted_before(root):
    bound(root, "hulp_evaluatiedatum", "not_before").set("value", "gisteren")


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
        planting(add_property, "gesprek_met", "not_after", "today"),
        "stap3_gesprek",
        "'Stap 3: Gesprek met de cliënt'",
        "gesprek_met",
        ("not_after", "alleen voor een datumveld"),
    ),
    "yes/no field": (
        planting(add_property, "vermoeden", "not_before", "today"),
        "stap4_wegen",
        "'Stap 4: Wegen'",
        "vermoeden",
        ("not_before", "alleen voor een datumveld"),
    ),
    "twice the same": (
        planting(add_property, "datum_waarneming", "not_after", "today"),
        "stap1_signalen",
        "'Stap 1: Signalen in kaart brengen'",
        "datum_waarneming",
        ("not_after", "meer dan eens"),
    ),
    "twice differing": (
        planting(add_property, "hulp_evaluatiedatum", "not_before", "tomorrow"),
        "hulp_organiseren",
        "'Hulp bieden of organiseren'",
        "hulp_evaluatiedatum",
        ("not_before", "meer dan eens"),
    ),
}


def planted(case: str) -> bytes:
    root = shipped_tree()
    PLANTED[case][0](root)
    return as_bytes(root)


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_meldcode_check_refuses_a_wrong_date_bound(case, tmp_path):
    _, task, label, key, words = PLANTED[case]
    path, number, message = cli_finding(tmp_path, planted(case), words)
    assert inside(path.read_bytes(), number, key)
    assert message.startswith(f" formulierveld '{key}' van {label}"), message
    assert inside(path.read_bytes(), number, task)


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
    add_property(root, "melding_datum", "not_before", "today")
    set_value("tomorow")(root)
    content = as_bytes(root)
    problems = bpmn_checks.lint(SourceFile("meldcode.bpmn", content), etree.fromstring(content))
    assert len(problems) == 1, [str(p) for p in problems]
    assert "'igj_melddatum'" in str(problems[0]) and "niet 'tomorow'" in str(problems[0])
