"""The organisation's own meldcode, for every signed-in staff member: as a page in the site, as
the standalone document (for printing) and as a PDF, each in the reader's language
(webui.documents). Each follows one professional group's afwegingskader: `?beroepsgroep=KEY`
(a key of engine.organisation.BEROEPSGROEPEN; another: 422), else the reader's own group,
else the organisation's setting (engine.meldcode_doc.build)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import login_required

from engine import meldcode_doc, organisation

from .. import documents
from ..web import principal

bp = Blueprint("meldcode", __name__)


def _doc() -> dict:
    """The document's data for this request: the group asked for, or the reader's own."""
    return meldcode_doc.build(beroepsgroep=request.args.get("beroepsgroep"),
                              reader=principal().name)


@bp.get("/meldcode")
@login_required
def document():
    doc = _doc()
    # in the session's language; every value escaped by the autoescaping template
    return render_template("meldcode/document.html", doc=doc, body=documents.meldcode_body(doc),
                           beroepsgroepen=organisation.BEROEPSGROEPEN,
                           asked=request.args.get("beroepsgroep"))


@bp.get("/meldcode/document")
@login_required
def standalone():
    return Response(documents.meldcode_html(_doc()), mimetype="text/html")


@bp.get("/meldcode.pdf")
@login_required
def pdf():
    doc = _doc()
    return Response(documents.meldcode_pdf(doc), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="meldcode-versie-{doc["version"]}.pdf"'})
