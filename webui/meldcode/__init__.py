"""The organisation's own meldcode, for every signed-in staff member: as a page in the site, as
the standalone document (for printing) and as a PDF, each in the reader's language
(webui.documents)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_login import login_required

from engine import meldcode_doc

from .. import documents

bp = Blueprint("meldcode", __name__)


@bp.get("/meldcode")
@login_required
def document():
    doc = meldcode_doc.build()
    # in the session's language; every value escaped by the autoescaping template
    return render_template("meldcode/document.html", doc=doc, body=documents.meldcode_body(doc))


@bp.get("/meldcode/document")
@login_required
def standalone():
    return Response(documents.meldcode_html(meldcode_doc.build()), mimetype="text/html")


@bp.get("/meldcode.pdf")
@login_required
def pdf():
    doc = meldcode_doc.build()
    return Response(documents.meldcode_pdf(doc), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="meldcode-versie-{doc["version"]}.pdf"'})
