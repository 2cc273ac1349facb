"""Practice mode (issue 14 point 5): the practice page (/oefenen), where a medewerker starts a
fictional case from a scenario and finds their practice cases again (engine/practice.py). The
banner that marks every page of a practice case is in base.html (practice/_banner.html)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import practice
from engine.errors import Invalid

from ..texts import translate_all
from ..web import principal

bp = Blueprint("practice", __name__)


@bp.route("/oefenen", methods=["GET", "POST"])
@login_required
def index():
    """GET: the scenarios and one's own practice cases. POST (scenario=KEY): start a practice
    case and open its first task."""
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            case = practice.start(principal(), request.form.get("scenario"))
        except Invalid as exc:
            errors, status = translate_all(dict(exc.errors)), 422
        else:
            flash(_("Uw oefencasus is gestart. Niemand anders ziet hem."), "success")
            first = next((t for t in case["tasks"]), None)
            if first:
                return redirect(url_for("tasks.task", task_id=first["id"]))
            return redirect(url_for("cases.case", case_id=case["id"]))
    return render_template("practice/index.html", page=practice.overview(principal()),
                           errors=errors, practice_page=True), status
