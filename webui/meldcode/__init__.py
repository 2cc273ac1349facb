"""The organisation's own meldcode, for every signed-in staff member: as a page in the site, as
the standalone document (for printing) and as a PDF."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_login import login_required
from markupsafe import Markup

from engine import meldcode_doc

bp = Blueprint("meldcode", __name__)


@bp.get("/meldcode")
@login_required
def document():
    doc = meldcode_doc.build()
    # render_body escapes every value itself (autoescaping Jinja in engine/templates)
    body = Markup(meldcode_doc.render_body(doc))  # noqa: S704
    return render_template("meldcode/document.html", doc=doc, body=body)


@bp.get("/meldcode/document")
@login_required
def standalone():
    return Response(meldcode_doc.render_html(meldcode_doc.build()), mimetype="text/html")


@bp.get("/meldcode.pdf")
@login_required
def pdf():
    doc = meldcode_doc.build()
    return Response(meldcode_doc.render_pdf(doc), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="meldcode-versie-{doc["version"]}.pdf"'})
