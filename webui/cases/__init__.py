"""Cases: Mijn casussen, a new case, the case page with its diagram, and its print view."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine import consults, links, listings, migration, overview, pages, sharing, timezones, versions
from engine.cases import start_case
from engine.commands import refusals_logged
from engine.errors import Conflict, Forbidden, Invalid
from engine.stored_time import damaged_tasks

from ..web import principal, when

bp = Blueprint("cases", __name__)


@bp.get("/casussen")
@login_required
def cases():
    # ?client_ref=...&owner=...: a search (engine/listings.py parse_search), a GET form
    asked = request.args.get("pagina", "1")
    page = int(asked) if asked.isascii() and asked.isdigit() and len(asked) < 7 else 1
    search, errors = listings.parse_search(request.args)
    if errors:
        return render_template("cases/list.html", listing=None, search=search,
                               errors=errors), 422
    return render_template("cases/list.html", listing=listings.my_cases(principal(), page, search),
                           search=search, errors={})


@bp.get("/team")
@login_required
def team():
    return render_template("cases/team.html", team=overview.team_cases(principal()))


@bp.route("/casussen/nieuw", methods=["GET", "POST"])
@login_required
def new_case():
    if not current_user.may_start_case and request.method != "POST":
        abort(403)  # a POST goes to the engine, which refuses it and logs the attempt
    values = {"client_ref": "", "reason": ""}
    errors = {}
    if request.method == "POST":
        values = {"client_ref": request.form.get("client_ref", ""),
                  "reason": request.form.get("reason", "")}
        try:
            case = start_case(principal(), values)
        except Invalid as exc:
            errors = exc.errors
        except Forbidden:
            abort(403)
        else:
            flash(_("Casus %(ref)s is gestart.", ref=case["client_ref"]), "success")
            first = next((t for t in case["tasks"] if t["lane"] == "medewerker"), None)
            if first:
                return redirect(url_for("tasks.task", task_id=first["id"]))
            return redirect(url_for("cases.case", case_id=case["id"]))
    status = 422 if errors else 200
    return render_template("cases/new.html", values=values, errors=errors), status


@bp.get("/casussen/<int:case_id>")
@login_required
def case(case_id: int):
    page = pages.case_page(principal(), case_id)
    damaged_tasks(page["case"]["tasks"])  # logged; the page says so (cases/case.html)
    return render_template("cases/case.html", page=page, notice=migration.case_notice(page))


@bp.context_processor
def _after_stap5():
    # the case page's statement of the stap 5 decisions (engine/overview.py), for any page
    # that shows a case (also again after a refused form)
    return {"after_stap5": overview.after_stap5,
            "day": lambda d: format_date(d, "d MMMM yyyy") if d else ""}


# Handing over and sharing: one form each on the case page; an error shows the page again
# with the message at the field and what was typed kept.
_PERSON_FORMS = {
    "overdragen": (sharing.hand_over, _l("De casus is overgedragen aan %(name)s.")),
    "delen": (sharing.share, _l("De casus is gedeeld met %(name)s.")),
}


_ACTIONS = {"overdragen": "hand_over", "delen": "share"}  # their names in the access log


@bp.post("/casussen/<int:case_id>/<any(overdragen, delen):what>")
@login_required
def person_form(case_id: int, what: str):
    command, done = _PERSON_FORMS[what]
    values = {"user": request.form.get("user", ""), "reason": request.form.get("reason", "")}
    try:
        with refusals_logged(principal(), case_id, _ACTIONS[what]):
            # a NUL in the name or reason: the engine refuses it before any look-up, in the
            # words of every text field (form_text.refused_character; task W point 2b)
            case = command(principal(), case_id, values)
    except Invalid as exc:
        page = pages.case_page(principal(), case_id)
        return render_template("cases/case.html", page=page, notice=migration.case_notice(page),
                               form=what, values=values, errors=exc.errors), 422
    flash(done % {"name": values["user"]}, "success")
    if what == "overdragen" and case["owner"] != current_user.name:
        # the case is no longer ours to read unless we lead its new owner's team
        return redirect(url_for("tasks.inbox"))
    return redirect(url_for("cases.case", case_id=case_id))


@bp.post("/casussen/<int:case_id>/raadplegen")
@login_required
def consult(case_id: int):
    values = {"user": request.form.get("user", ""), "question": request.form.get("question", "")}
    try:
        with refusals_logged(principal(), case_id, "consult"):
            consults.request(principal(), case_id, values)  # a NUL: as person_form
    except Invalid as exc:
        page = pages.case_page(principal(), case_id)
        return render_template("cases/case.html", page=page, notice=migration.case_notice(page),
                               form="raadplegen", values=values, errors=exc.errors), 422
    flash(_("Uw vraag is gesteld; de collega ziet hem bij de eigen taken."), "success")
    return redirect(url_for("cases.case", case_id=case_id))


@bp.post("/casussen/<int:case_id>/kinderen")
@login_required
def start_for_children(case_id: int):
    # "Casus starten voor de kinderen" (engine/links.py): a new case linked to this one; only
    # its owner (others 403); an error shows the case page again with what was typed kept
    values = {"client_ref": request.form.get("client_ref", ""),
              "reason": request.form.get("reason", "")}
    try:  # every refusal is in the access log (engine/links.py children_refusal, start)
        new = links.start_for_children(principal(), case_id, values)
    except (Invalid, Conflict) as exc:  # named at the form, what was typed kept
        errors = exc.errors if isinstance(exc, Invalid) else {"linked_case": exc.message}
        page = pages.case_page(principal(), case_id)
        return render_template("cases/case.html", page=page, notice=migration.case_notice(page),
                               form="kinderen", values=values, errors=errors), exc.status
    flash(_("Casus %(ref)s is gestart voor de kinderen en gekoppeld aan casus %(id)s.",
            ref=new["client_ref"], id=case_id), "success")
    first = next((t for t in new["tasks"] if t["lane"] == "medewerker"), None)
    if first:
        return redirect(url_for("tasks.task", task_id=first["id"]))
    return redirect(url_for("cases.case", case_id=new["id"]))


@bp.get("/casussen/<int:case_id>/afdrukken")
@login_required
def print_case(case_id: int):
    page = pages.case_page(principal(), case_id, action="print")
    return render_template("cases/print.html", page=page, now_text=when(timezones.now_utc()))


@bp.get("/processen/<int:version>/diagram.bpmn")
@login_required
def diagram(version: int):
    return Response(versions.diagram_xml(version), mimetype="application/xml")
