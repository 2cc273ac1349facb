"""The dossier PDF: no text of a case reaches its CSS, WeasyPrint fetches nothing but the
product's own files and data: URLs, and the PDF reads well: "&" once in the header, Dutch
dates, step names instead of element ids, tagged for assistive technology (PDF/UA-1). The
documents are rendered by webui.documents (the engine gives their data); here in Dutch, as the
command line makes them."""

from __future__ import annotations

import base64
import http.server
import re
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from engine import cases, meldcode_doc, store
from tests.conftest import need
from tests.helpers import finished_case
from webui import documents

MONTHS = ("januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november"
          "|december")
DUTCH_DATE_TIME = re.compile(rf"\b\d{{1,2}} ({MONTHS}) \d{{4}}, \d{{2}}:\d{{2}}\b")
# A 2x2 red PNG: an image the product itself may embed as a data: URL, and the "secret" file.
PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGM8wcDAwMDAxMDAwMDAAAAKUgDMUCehPAAA"
         "AABJRU5ErkJggg==")


@contextmanager
def in_dutch():
    """An application context in which documents are rendered in Dutch."""
    from flask_babel import force_locale

    from webui import create_app

    with create_app({"TESTING": True}).app_context(), force_locale("nl"):
        yield


def export(who, case_id, fmt):
    with in_dutch():
        return documents.export(who, case_id, fmt)


@pytest.fixture
def web_server():
    """A tiny HTTP server on loopback that counts every request made to it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def secret_image():
    """A local file that must never end up in a PDF: a valid PNG, so WeasyPrint would embed it.
    A short path: the payload must fit in a client reference (200 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    path = folder / "g.png"
    path.write_bytes(base64.b64decode(PIXEL))
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def pdf_text(content: bytes, tmp_path, *args: str) -> str:
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    path = tmp_path / "dossier.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def hostile_ref(base_url: str, secret: Path) -> str:
    """A client reference that ends a CSS string with a newline and then asks for a URL of
    the attacker's choice, a local image and a local text file."""
    ref = ("Jansen\n}}@page{background:url(" + secret.as_uri() + ")}"
           "h1{background:url(" + base_url + "/kop)}h2{background:url(file:///etc/passwd)}p{x:\"")
    assert len(ref) <= 200
    return ref


def plant_client_ref(url: str, case_id: int, client_ref: str) -> None:
    """Write a client reference as stored before texts were checked, or by a database writer."""
    with store.unit_of_work(write=True, url=url) as session:
        session.execute(text("update cases set client_ref=:r where id=:c"),
                        {"r": client_ref, "c": case_id})


def test_client_ref_never_reaches_the_css(people, db_url, tmp_path, web_server, secret_image):
    base_url, hits = web_server
    case = cases.start_case(people["mw"], {"client_ref": "placeholder"})
    plant_client_ref(db_url, case["id"], hostile_ref(base_url, secret_image))

    content, _ = export(people["aud"], case["id"], "pdf")

    assert hits == [], f"WeasyPrint fetched {hits}"
    assert b"/Image" not in content, "a local image was embedded"
    text_of_pdf = pdf_text(content, tmp_path)
    assert "root:" not in text_of_pdf
    # The reference is shown as text, whole, in the header and on the first page.
    assert "@page{background:url(" in text_of_pdf


def test_organisation_name_never_reaches_the_css(people, tmp_path, web_server, secret_image):
    base_url, hits = web_server
    doc = meldcode_doc.build()
    doc["org"] = {**doc["org"], "organisatie_naam": hostile_ref(base_url, secret_image)}
    with in_dutch():
        content = documents.meldcode_pdf(doc)
    assert hits == [], f"WeasyPrint fetched {hits}"
    assert b"/Image" not in content


def test_only_product_files_and_data_urls_are_fetched(tmp_path, web_server, secret_image):
    base_url, hits = web_server
    templates = documents.TEMPLATES
    escape = "../" * len(templates.parts) + str(secret_image).lstrip("/")
    html = f"""<!doctype html><html lang="nl"><head><title>t</title>
      <link rel="stylesheet" href="{base_url}/stijl.css">
      <link rel="stylesheet" href="https://127.0.0.1:1/stijl.css"></head><body>
      <img alt="a" src="{secret_image.as_uri()}"><img alt="b" src="{escape}">
      <img alt="c" src="{base_url}/plaatje.png"><img alt="d" src="ftp://127.0.0.1/x.png">
      <img alt="e" src="file:///etc/passwd"></body></html>"""
    refused = documents.html_to_pdf(html)
    assert hits == []
    assert b"/Image" not in refused
    # The same check sees an image the product may embed: a data: URL.
    allowed = documents.html_to_pdf(html.replace(
        "</body>", f'<img alt="f" src="data:image/png;base64,{PIXEL}"></body>'))
    assert b"/Image" in allowed

    fetcher = documents.product_files()
    own = fetcher.fetch((templates / "dossier.html").as_uri())
    assert b"<html" in own.read()
    own.close()
    for url in (secret_image.as_uri(), "file:///etc/passwd", f"{base_url}/x",
                (templates / ".." / "base.html").as_uri(), "FILE:///etc/passwd"):
        with pytest.raises(ValueError, match="geweigerd"):
            fetcher.fetch(url)
    assert hits == []


def test_header_shows_the_reference_once_escaped(sqlite_people, tmp_path):
    ref = "Jansen & Zn <b>"
    case = cases.start_case(sqlite_people["mw"], {"client_ref": ref})
    content, _ = export(sqlite_people["aud"], case["id"], "pdf")
    first_page = pdf_text(content, tmp_path, "-layout", "-l", "1")
    header = " ".join(first_page.splitlines()[:2])
    assert f"Casus {case['id']} · Jansen & Zn <b>" in header, header
    assert "&amp;" not in first_page and "&lt;" not in first_page


def test_dates_in_dutch_step_names_not_ids_and_tagged(sqlite_people, tmp_path):
    need(shutil.which("pdfinfo") is not None, "pdfinfo (poppler-utils) is not installed")
    case = finished_case(sqlite_people)
    content, data = export(sqlite_people["aud"], case["id"], "pdf")
    text_of_pdf = pdf_text(content, tmp_path, "-layout")

    assert DUTCH_DATE_TIME.search(text_of_pdf), text_of_pdf[:500]
    assert not re.search(r"\b\d{2}-\d{2}-\d{4}\b", text_of_pdf)  # no 29-11-2026
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text_of_pdf)  # date answers too
    # No element id of the diagram (stap1_signalen, afwegingskader_besluit, ...) where the
    # diagram names the element; ids are the only words with an underscore.
    assert re.findall(r"\b[a-z0-9]+_[a-z0-9_]+\b", text_of_pdf) == []
    assert any(e["step"] and e["step_name"] != e["step"] for e in data["history"]
               if e["action"] == "decision_made")

    # Tagged and marked as PDF/UA-1: a structure tree with headings and table headers.
    path = tmp_path / "dossier.pdf"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info
    structure = subprocess.run(["pdfinfo", "-struct", str(path)], capture_output=True, text=True,
                               check=True).stdout
    assert "Document" in structure and "H1" in structure and "TH" in structure
    meta = subprocess.run(["pdfinfo", "-meta", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert 'pdfuaid:part="1"' in meta


def test_local_time_is_dutch_in_amsterdam(sqlite_url):
    # Winter (UTC+1) and summer (UTC+2) time.
    with in_dutch():
        assert documents.local_time("2026-11-29T13:05:07Z") == "29 november 2026, 14:05"
        assert documents.local_time("2026-07-01T08:00:00+00:00", seconds=True) == "1 juli 2026, 10:00:00"
        assert documents.local_time(None) == "—"
