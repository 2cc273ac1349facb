"""The organisation's meldcode per professional group (issue 14 point 4), as a medewerker uses
it: on Onze meldcode they choose the doctors' version, read the KNMG points, download that
version as a PDF and read it back; axe-core without serious problems."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from tests.conftest import need

from .conftest import axe_violations, login, shot

pytestmark = pytest.mark.browser


def test_a_medewerker_reads_and_downloads_the_knmg_version(new_context, tmp_path):
    # bypass_csp only to inject axe-core; the page runs under the real CSP
    page = new_context(bypass_csp=True, accept_downloads=True).new_page()
    login(page, "mw")
    with page.expect_navigation():
        page.get_by_role("link", name="Onze meldcode").click()
    document = page.locator("article.meldcode-doc")
    expect(document.get_by_role("heading", name="Kom in actie")).to_be_visible()
    expect(document).not_to_contain_text("letselduiding")
    with page.expect_navigation():
        page.get_by_role("link", name="Artsen: de KNMG-meldcode").click()
    assert page.url.endswith("/meldcode?beroepsgroep=artsen")
    choice = page.get_by_role("navigation", name="De meldcode per beroepsgroep")
    expect(choice.locator("[aria-current=true]")).to_have_text("Artsen: de KNMG-meldcode")
    expect(document.get_by_role("heading", name="Het afwegingskader van uw beroepsgroep")
           ).to_be_visible()
    expect(document).to_contain_text("(letselduiding)")
    expect(document).to_contain_text("Vraag in stap 2 advies aan Veilig Thuis")
    shot(page, "meldcode-knmg")
    assert axe_violations(page) == []

    with page.expect_download() as info:
        page.get_by_role("link", name="Downloaden als PDF").click()
    target = tmp_path / "knmg.pdf"
    info.value.save_as(target)
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    content = " ".join(subprocess.run(["pdftotext", str(target), "-"], capture_output=True,
                                      text=True, check=True).stdout.split())
    assert "KNMG-meldcode kindermishandeling en huiselijk geweld" in content
    assert "(letselduiding)" in content and "Kom in actie" in content
