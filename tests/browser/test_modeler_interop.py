"""Interop of the modeler in a real browser: every MIWG reference diagram opens (or is refused
with a shown message, never a crash); a round trip through the modeler keeps every element,
attribute and extension it does not edit; a diagram saved by this bpmn.io modeler, with its
camunda:formData, deploys; the afwegingskader table is edited with dmn-js and deployed with
the diagram."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from lxml import etree
from playwright.sync_api import expect

from engine import definitions
from tests.conftest import ROOT

from .conftest import SCREENSHOTS, login, start_server

pytestmark = pytest.mark.browser

MIWG = ROOT.parent / "shared" / "miwg" / "reference"
SHIPPED = ROOT / "processes" / "meldcode.bpmn"
ARTIFACTS = ROOT / "test-artifacts" / "modeler"


@pytest.fixture(scope="module")
def interop_server(tmp_path_factory):
    server, _url = start_server(tmp_path_factory.mktemp("interop"))
    yield server
    server.stop()


@pytest.fixture
def owner(browser, browser_context_args, interop_server):
    context = browser.new_context(**{**browser_context_args, "base_url": interop_server.base,
                                     "accept_downloads": True})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, "pb")
    page.goto("/processen/modeler")
    expect(page.locator("#mc-modeler")).to_have_attribute("data-state", "ready")
    expect(page.locator("#mc-canvas")).to_have_attribute("data-loads", "1")
    yield page
    context.close()
    assert not errors, errors


def upload(page, path) -> dict:
    """Open a file through the page's own file input; wait until the import is done."""
    canvas = page.locator("#mc-canvas")
    loads = int(canvas.get_attribute("data-loads") or 0)
    page.locator("#mc-upload").set_input_files(str(path))
    expect(canvas).to_have_attribute("data-loads", str(loads + 1))
    return {
        "state": canvas.get_attribute("data-state"),
        "warnings": page.locator("#mc-warnings-list li").all_inner_texts(),
        "status": page.locator("#mc-status").inner_text(),
        "elements": page.evaluate(
            "MeldcodeModeler.instance().get('elementRegistry').getAll().length"),
    }


def download(page) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name="Downloaden (.bpmn)").click()
    return open(info.value.path(), "rb").read()


# --- MIWG --------------------------------------------------------------------------------------


@pytest.mark.skipif(not MIWG.exists(), reason="shared/miwg not beside the checkout")
def test_every_miwg_reference_diagram_opens_in_the_modeler(owner):
    results = {}
    for path in sorted(MIWG.glob("*.bpmn")):
        result = upload(owner, path)
        results[path.name] = result
        if result["state"] == "ready":
            expect(owner.locator("#mc-status")).to_contain_text(f"{path.name} is geopend")
            assert result["elements"] > 1, path.name
        else:  # refused: with a message on the page, and the previous diagram kept
            expect(owner.locator("#mc-status")).to_contain_text(f"{path.name} kon niet worden geopend")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "miwg-import.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    opened = [name for name, r in results.items() if r["state"] == "ready"]
    assert len(opened) == len(results), {n: r["status"] for n, r in results.items() if n not in opened}
    # and each gets the server's verdict too (none is the meldcode, so each is refused, with reasons)
    owner.get_by_role("button", name="Controleren").click()
    expect(owner.locator("#mc-problems")).to_contain_text("proces 'meldcode' ontbreekt")
    owner.locator(".djs-container").screenshot(path=str(SCREENSHOTS / "modeler-miwg-laatste.png"))


def test_a_file_that_is_no_diagram_is_refused_with_a_message(owner, tmp_path):
    broken = tmp_path / "kapot.bpmn"
    broken.write_text("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>")
    result = upload(owner, broken)
    assert result["state"] == "error"
    expect(owner.locator("#mc-status")).to_contain_text("kapot.bpmn kon niet worden geopend")
    # the diagram that was open stays open and usable
    assert result["elements"] > 50
    expect(owner.locator('#mc-canvas g[data-element-id="stap1_signalen"]')).to_have_count(1)


# --- a round trip keeps what it does not edit ---------------------------------------------------


def _by_id(root) -> dict[str, dict]:
    """Every element with an id: its tag, attributes, text, and its extension elements."""
    out = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or node.get("id") is None:
            continue
        extensions = node.find(f"{{{definitions.BPMN_NS}}}extensionElements")
        out[node.get("id")] = {
            "tag": node.tag,
            "attributes": dict(node.attrib),
            "text": (node.text or "").strip(),
            "children": Counter(c.tag for c in node if isinstance(c.tag, str)),
            "documentation": [(d.text or "").strip() for d in
                              node.findall(f"{{{definitions.BPMN_NS}}}documentation")],
            "condition": [(c.text or "").strip() for c in
                          node.findall(f"{{{definitions.BPMN_NS}}}conditionExpression")],
            "extensions": etree.tostring(extensions, method="c14n") if extensions is not None else b"",
        }
    return out


def _canonical_extensions(blob: bytes) -> bytes:
    """Extension XML without the formatting whitespace a pretty-printer may change."""
    if not blob:
        return b""
    node = etree.fromstring(blob, etree.XMLParser(remove_blank_text=True))
    return etree.tostring(node, method="c14n")


def test_round_trip_keeps_every_element_attribute_and_extension(owner):
    result = upload(owner, SHIPPED)
    assert result["state"] == "ready" and result["warnings"] == []
    saved = download(owner)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "meldcode-rondreis.bpmn").write_bytes(saved)
    before = _by_id(etree.fromstring(SHIPPED.read_bytes()))
    after = _by_id(etree.fromstring(saved))
    assert set(before) == set(after)
    for element_id, old in before.items():
        new = after[element_id]
        assert new["tag"] == old["tag"], element_id
        assert new["attributes"] == old["attributes"], element_id
        assert new["text"] == old["text"], element_id
        assert new["children"] == old["children"], element_id
        assert new["documentation"] == old["documentation"], element_id
        assert new["condition"] == old["condition"], element_id
        assert _canonical_extensions(new["extensions"]) == _canonical_extensions(old["extensions"]), \
            element_id
    # the camunda:formData of every user task is there, field for field
    ns = definitions.NS
    fields = "//camunda:formField/@id"
    assert etree.fromstring(saved).xpath(fields, namespaces=ns) == \
        etree.fromstring(SHIPPED.read_bytes()).xpath(fields, namespaces=ns)
    # and `meldcode check` finds it as deployable as the original
    definition, problems = definitions.check([
        definitions.SourceFile("meldcode.bpmn", saved),
        *[f for f in definitions.shipped_files() if f.kind == "dmn"]])
    assert problems == [] and definition is not None

    # a diagram saved by this bpmn.io modeler deploys: no changes in content, a new version
    owner.get_by_role("button", name="Publiceren…").click()
    dialog = owner.get_by_role("dialog", name="Deze versie publiceren?")
    # the dialog opens once the check has proved every route: seconds, more under load
    expect(dialog).to_contain_text("geen inhoudelijke wijzigingen", timeout=120_000)
    dialog.get_by_role("button", name="Ja, publiceren").click()
    # publishing proves every route first: seconds on an idle machine, more under load
    expect(owner.locator("#mc-status")).to_contain_text("Gepubliceerd als versie", timeout=120_000)
    owner.goto("/processen")
    expect(owner.locator("table.versions tbody tr")).to_have_count(2)


# --- the decision table -------------------------------------------------------------------------


def test_decision_table_edited_checked_and_published_with_the_diagram(owner):
    table = owner.locator("#mc-dmn")
    expect(table).to_have_attribute("data-state", "ready")
    cell = table.locator('td[data-element-id="regel_geen_hulp_mogelijk_in_3"] [contenteditable]')
    expect(cell).to_have_text("false")
    cell.click()
    owner.keyboard.press("Control+A")
    owner.keyboard.type("__import__('os')")
    owner.locator("#mc-modeler h1").click()  # leave the cell
    expect(owner.locator("#mc-dirty")).to_be_visible()
    owner.get_by_role("button", name="Controleren").click()
    problems = owner.locator("#mc-problems")
    expect(problems).to_contain_text("afwegingskader.dmn", timeout=120_000)
    expect(problems).to_contain_text("ongeldige invoercel")
    expect(owner.locator("#mc-canvas g.mc-problem")).to_have_count(0)  # not on the BPMN diagram
    owner.locator("#beslistabel").screenshot(path=str(SCREENSHOTS / "modeler-beslistabel.png"))
    cell.click()
    owner.keyboard.press("Control+A")
    owner.keyboard.type("false")
    owner.locator("#mc-modeler h1").click()
    owner.get_by_role("button", name="Publiceren…").click()
    dialog = owner.get_by_role("dialog", name="Deze versie publiceren?")
    # the dialog opens once the check has proved every route: seconds, more under load
    expect(dialog).to_contain_text("Beslistabel", timeout=120_000)
    dialog.get_by_role("button", name="Ja, publiceren").click()
    # publishing proves every route first: seconds on an idle machine, more under load
    expect(owner.locator("#mc-status")).to_contain_text("Gepubliceerd als versie", timeout=120_000)
    version = int(owner.locator("#mc-active-version").inner_text())
    response = owner.request.get(f"/processen/{version}/bestanden/afwegingskader.dmn")
    stored = response.body()
    assert response.ok and stored != (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
    cell = etree.fromstring(stored).xpath("//*[@id='regel_geen_hulp_mogelijk_in_3']/*")[0]
    assert cell.text == "false"  # written by dmn-js, checked and deployed with the diagram
