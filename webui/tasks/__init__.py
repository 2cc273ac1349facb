"""Mijn taken (the inbox, the home page) and the task page with its form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import drafts, forms, listings, overview, pages, tasks
from engine.errors import Conflict, Invalid
from engine.roles import AUDITOR, BEHEERDER, PROCESBEHEERDER, TASK_LANES
from engine.stored_rows import value_damage
from engine.stored_time import damaged_tasks, damaged_time

from ..texts import translate
from ..web import error_page, principal, simple_condition, when

bp = Blueprint("tasks", __name__)
# a task time stored as something that is no time (engine/stored_time.py): shown as damaged
bp.add_app_template_test(damaged_time, "damaged_time")

# Names in a posted task form that are not form fields.
_CONTROL = {"csrf_token", "actie"}


# Where a person without tasks of their own starts (after sign-in and on "/"), by role.
START_PAGES = ((AUDITOR, "audit.cases"), (PROCESBEHEERDER, "processes.versions"),
               (BEHEERDER, "admin.settings"))


@bp.get("/")
@login_required
def inbox():
    if not any(r in TASK_LANES for r in current_user.roles):
        # an auditor, procesbeheerder or beheerder never has a task: their own start page
        start = next((page for role, page in START_PAGES if role in current_user.roles), None)
        if start:
            return redirect(url_for(start))
    # ?sorteer=urgentie|termijn|casus|stap (pages.INBOX_SORTS): a link on the page, no script
    found = listings.inbox(principal(), request.args.get("sorteer", pages.INBOX_SORTS[0]))
    return render_template("tasks/inbox.html", inbox=found,
                           damaged=damaged_tasks(found["tasks"]))


def _posted() -> dict[str, str | list[str]]:
    """The posted form's fields: one value as text; a name posted more than once (the ticked
    boxes of a multi field) as the list of its values, which engine.forms checks."""
    posted: dict[str, str | list[str]] = {}
    for name, values in request.form.lists():
        if name not in _CONTROL:
            posted[name] = values[0] if len(values) == 1 else values
    return posted


def _defaults(fields: list[dict]) -> dict[str, str]:
    """The answers a form opens with: a boolean field's default (the diagram's defaultValue,
    which is recorded when the field is left empty) as the web form's ja/nee."""
    return {f["name"]: "ja" if f["default"] else "nee" for f in fields
            if isinstance(f.get("default"), bool)}


def _render(task: dict, values: dict, errors: dict | None = None, status: int = 200):
    # Which fields this form asks, as the server decides it (engine/form_conditions.py): a
    # required_when over the case data alone is settled here (false: the field is not asked
    # and not on the page, its answer would be refused; true: plainly required); what is
    # left over this form's answers, tests that must all hold, app.js checks in the browser.
    # An invalid_when that refuses every answer to its field (not reading the field itself)
    # is the server's rule too: refused whatever the answers, an optional field is not on the
    # page; refused while tests over this form hold, app.js hides it then (data-unless).
    conditions, refusals = task["conditions"], task["refusals"]  # pages.task_page
    fields = []
    for f in task["form"]["fields"]:
        if f["type"] == "date":  # the browser's date picker offers only the days it takes
            f["min"], f["max"] = (day.isoformat() for day in forms.date_bounds(f))
        decided, refused = conditions.get(f["name"]), refusals.get(f["name"])
        if decided is False or (refused is True and not f["required"] and decided is None):
            continue
        if decided is True:
            f = {**f, "required": True, "required_when": None}
        f["condition"] = simple_condition(decided if isinstance(decided, list) else None,
                                          task["form"]["fields"])
        f["unless"] = simple_condition(refused if isinstance(refused, list) else None,
                                       task["form"]["fields"])
        fields.append(f)
    names = {f["name"] for f in fields}
    errors = errors or {}
    return render_template(
        "tasks/task.html", task=task, fields=fields, values=values, errors=errors,
        other_errors={k: v for k, v in errors.items() if k not in names},
        progress=overview.progress(task["step"]),
    ), status


@bp.route("/taken/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str):
    if request.method == "GET":
        task = pages.task_page(principal(), task_id)
        damage = {f"tasks.{name}": kind for name, kind in
                  ((name, value_damage(task.get(name))) for name in ("state", "urgent")) if kind}
        damage |= {f"cases.{name}": kind for name, kind in (task.get("stored_damage") or {}).items()}
        if damage:
            # a state or flag no product wrote (the page shows a damaged time itself), or a
            # process version that is gone (no form to offer): the task is beschadigd, never
            # "al afgerond", and no form is offered (issue 11)
            return error_page(409, _(
                "De gegevens van casus %(case)s zijn beschadigd opgeslagen (%(fields)s). De "
                "database is buiten de applicatie gewijzigd: meld dit aan de beheerder, die "
                "het met meldcode verify kan nagaan.", case=task.get("case_id"),
                fields="; ".join(f"{name}: {translate(kind)}" for name, kind in damage.items())),
                _("Gegevens beschadigd"))
        if task.get("state", "ready") != "ready":
            # e.g. the back button after completing it: show where the case stands now
            flash(_("Deze stap is al afgerond of staat niet meer open."), "info")
            return redirect(url_for("cases.case", case_id=task["case_id"]))
        draft = task.get("draft")
        if draft:
            flash(_("Uw concept van %(when)s is teruggezet.", when=when(draft["saved_at"])), "info")
        return _render(task, {**_defaults(task["form"]["fields"]),
                              **(dict(draft["data"]) if draft else {})})

    data = _posted()
    if request.form.get("actie") == "concept":
        try:
            saved = drafts.save(principal(), task_id, data)
        except Invalid as exc:  # a character a completion refuses too: the draft stays as it was
            flash(translate(exc.message), "error")
            return _render(pages.task_page(principal(), task_id), data, exc.errors, 422)
        flash(_("Concept opgeslagen (%(when)s). U kunt later verder waar u gebleven was.",
                when=when(saved["saved_at"])), "success")
        return redirect(url_for("tasks.task", task_id=task_id))
    try:
        result = pages.complete_from_web(principal(), task_id, data)
    except Invalid as exc:
        task = pages.task_page(principal(), task_id)
        return _render(task, data, exc.errors if isinstance(exc.errors, dict) else {}, 422)
    except Conflict as exc:
        case_id = exc.extra.get("case_id") or tasks.case_of_task(task_id)
        return render_template("tasks/conflict.html", message=exc.message, case_id=case_id), 409
    case = result["case"]
    flash(_("Stap afgerond."), "success")
    if result["next_task_id"]:
        return redirect(url_for("tasks.task", task_id=result["next_task_id"]))
    return redirect(url_for("cases.case", case_id=case["id"]))
