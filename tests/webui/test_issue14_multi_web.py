"""The field type "multi" in the staff UI (issue 14 point 1): `geweldsvormen` as a group of
checkboxes rendered by the server, each with its help text linked to it, ticked boxes kept on a
422 and in a draft, and the chosen options' names on the case page."""

from __future__ import annotations

import re

from engine import models, store
from tests.helpers import text


def _task_location(browser_like) -> str:
    browser_like.login("mw")
    response = browser_like.post("/casussen/nieuw", {"client_ref": "C-multi"})
    assert response.status_code == 302
    return response.headers["Location"]


def _checked(page: str, name: str) -> list[str]:
    return re.findall(rf'<input type="checkbox" id="{name}-(\w+)" name="{name}" value="\1" '
                      r'checked', page)


def test_the_forms_of_violence_are_checkboxes_with_their_help(browser_like):
    location = _task_location(browser_like)
    page = text(browser_like.get(location))
    boxes = re.findall(r'<input type="checkbox" id="geweldsvormen-(\w+)" name="geweldsvormen" '
                       r'value="\1"( aria-describedby="uitleg-geweldsvormen-\1")?>', page)
    assert [value for value, _ in boxes] == [
        "lichamelijk", "psychisch", "seksueel", "verwaarlozing", "financieel",
        "schending_rechten", "getuige", "eergerelateerd", "huwelijksdwang", "achterlating", "vgv"]
    assert all(described for _, described in boxes)  # each box says what it means
    assert '<label for="geweldsvormen-vgv">Vrouwelijke genitale verminking</label>' in page
    assert 'id="uitleg-geweldsvormen-eergerelateerd"' in page
    # one group with a legend, as a screen reader announces it
    group = page[page.index('id="veld-geweldsvormen"'):page.index('id="veld-slachtoffer"')]
    assert "<fieldset" in group and "<legend>Om welke vormen van geweld" in group
    assert 'role="radiogroup"' not in group
    # the default of pleger_zorgverlener is shown as chosen
    assert re.search(r'id="pleger_zorgverlener-nee" name="pleger_zorgverlener" value="nee" '
                     r'checked', page)


def test_ticked_boxes_stay_ticked_on_a_422_and_in_a_draft(browser_like, sqlite_url):
    location = _task_location(browser_like)
    browser_like.get(location)
    response = browser_like.post(location, {"actie": "afronden", "kindcheck_kinderen": "nee",
                                            "geweldsvormen": ["vgv", "psychisch"]})
    assert response.status_code == 422  # signalen is missing
    page = text(response)
    assert _checked(page, "geweldsvormen") == ["psychisch", "vgv"]
    response = browser_like.post(location, {"actie": "afronden", "kindcheck_kinderen": "nee",
                                            "signalen": "x", "geweldsvormen": ["vgv", "slaan"]})
    assert response.status_code == 422
    assert 'id="fout-geweldsvormen"' in text(response) and "slaan" in text(response)

    response = browser_like.post(location, {"actie": "concept", "signalen": "half af",
                                            "geweldsvormen": ["lichamelijk", "getuige"]})
    assert response.status_code == 302
    with store.unit_of_work(url=sqlite_url) as session:
        (draft,) = session.query(models.Draft).all()
        assert draft.data["geweldsvormen"] == ["lichamelijk", "getuige"]
    assert _checked(text(browser_like.get(location)), "geweldsvormen") == ["lichamelijk",
                                                                          "getuige"]


def test_one_ticked_box_and_the_case_page_names_the_options(browser_like):
    location = _task_location(browser_like)
    browser_like.get(location)
    response = browser_like.post(location, {"actie": "afronden", "signalen": "blauwe plek",
                                            "kindcheck_kinderen": "nee",
                                            "geweldsvormen": "lichamelijk",
                                            "slachtoffer": ["kind", "oudere"]})
    assert response.status_code == 302, text(response)
    page = text(browser_like.get("/casussen/1"))
    assert "Lichamelijk geweld" in page
    assert "Een kind (jonger dan 18 jaar, ook een ongeboren kind), Een oudere " \
           "(ouderenmishandeling)" in page
