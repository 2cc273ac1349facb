"""The auditor's pages: cases by filter, a case's history step by step on the diagram with
the verify result, the access log and the "wie heeft dit dossier ingezien" overview; and the
dossier download (PDF or JSON) from the case page for anyone who may read the case.

Each view is one engine call with the signed-in Principal; the engine checks the role and
writes every read and refusal to the access log.
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine import oversight, timezones

from .. import documents
from ..web import principal, when

bp = Blueprint("audit", __name__)

# The access log's machine names as a person reads them.
ACCESS_ACTIONS = {
    "create": _l("Casus aangemaakt"),
    "read": _l("Casus ingezien"),
    "print": _l("Casus afgedrukt"),
    "read_task": _l("Taak geopend"),
    "complete_task": _l("Stap afronden"),
    "update": _l("Stap afgerond"),
    "save_draft": _l("Concept opgeslagen"),
    "read_history": _l("Geschiedenis ingezien"),
    "verify": _l("Geschiedenis gecontroleerd"),
    "export": _l("Dossier gedownload"),
    "hand_over": _l("Casus overgedragen"),
    "share": _l("Casus gedeeld"),
    "link": _l("Casus gekoppeld aan een nieuwe casus"),
    "link:invalid": _l("Koppelen: niet goed ingevuld"),
    "link:conflict": _l("Koppelen: kon niet (meer)"),
    "migrate": _l("Casus verplaatst naar een andere procesversie"),
    "read_access_log": _l("Toegangslog ingezien"),
    "search": _l("Casussen doorzocht"),
    "list_cases": _l("Getoond in Mijn casussen"),
    "list_inbox": _l("Getoond in Mijn taken"),
    "list_search": _l("Getoond in de zoekresultaten"),
    "list_team": _l("Getoond in Mijn team"),
    "list_practice": _l("Getoond op Oefenen (oefencasus)"),
    # refused changes: the reason after the colon (commands.refusal_action)
    "create:invalid": _l("Casus starten: niet goed ingevuld"),
    "create:conflict": _l("Casus starten: kon niet"),
    "complete_task:invalid": _l("Stap afronden: niet goed ingevuld"),
    "complete_task:conflict": _l("Stap afronden: stond niet meer open"),
    "hand_over:invalid": _l("Overdragen: niet goed ingevuld"),
    "hand_over:conflict": _l("Overdragen: kon niet (meer)"),
    "share:invalid": _l("Delen: niet goed ingevuld"),
    "share:conflict": _l("Delen: kon niet (meer)"),
    "consult": _l("Collega geraadpleegd"),
    "consult:invalid": _l("Raadplegen: niet goed ingevuld"),
    "consult:conflict": _l("Raadplegen: kon niet (meer)"),
}
OUTCOMES = {"ok": _l("toegestaan"), "denied": _l("geweigerd")}

_FORMATS = {
    "pdf": "application/pdf",
    "json": "application/json",
}


@bp.context_processor
def _labels():
    return {"ACCESS_ACTIONS": ACCESS_ACTIONS, "OUTCOMES": OUTCOMES}


@bp.get("/audit/casussen")
@login_required
def cases():
    page = oversight.search_page(principal(), request.args)
    status = 422 if page["errors"] else 200
    return render_template("audit/cases.html", page=page), status


@bp.get("/audit/casussen/<int:case_id>")
@login_required
def history(case_id: int):
    return render_template("audit/history.html", page=oversight.history_page(principal(), case_id))


@bp.get("/audit/casussen/<int:case_id>/toegangslog")
@login_required
def access_log(case_id: int):
    page = oversight.access_log_page(principal(), case_id)
    return render_template("audit/access_log.html", page=page)


@bp.get("/audit/casussen/<int:case_id>/inzage")
@login_required
def viewers(case_id: int):
    page = oversight.viewers(principal(), case_id)
    return render_template("audit/viewers.html", page=page, now_text=when(timezones.now_utc()))


@bp.get("/casussen/<int:case_id>/dossier.<any(pdf, json):fmt>")
@login_required
def export(case_id: int, fmt: str):
    # the PDF in the reader's language, the JSON the Dutch evidence file
    content, _dossier = documents.export(principal(), case_id, fmt)
    response = send_file(BytesIO(content), mimetype=_FORMATS[fmt], as_attachment=True,
                         download_name=f"dossier-casus-{case_id}.{fmt}", conditional=False)
    response.headers["Cache-Control"] = "no-store"  # case content: never in any cache
    return response
