"""Berichten: the signed-in person's notifications (CONTRACT section 5), their texts in the
reader's language, the unread count in the page header, and marking them read.

The engine keeps a notification's kind and the values of its text (engine/notifications.py);
the words are made here, from the catalogues. They name a step and a case number, never a
client reference or recorded data. The escalation of an overdue task to the owner's
leidinggevende (engine/reminders.is_escalation) has words of its own and no link to the task,
whose page is not theirs to open: the case's page is.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine import audit, notifications, reminders
from engine.cases import task_name

from ..texts import translate
from ..web import principal

bp = Blueprint("notifications", __name__)

TEXTS = {
    "task_ready": _l("Er staat een taak voor u klaar: %(step)s (casus %(case)s)."),
    "task_due": _l("Morgen verloopt de termijn van %(step)s (casus %(case)s)."),
    "task_overdue": _l("De termijn van %(step)s (casus %(case)s) is verstreken."),
    "informed": _l("In casus %(case)s is een melding bij Veilig Thuis gedaan; u wordt "
                   "daarover geïnformeerd en kunt de casus inzien."),
    "consult": _l("%(by)s vraagt uw advies over casus %(case)s."),
}
# to the owner's leidinggevende, about a task of a team member (engine/reminders.py)
ESCALATED = _l("Een taak van een collega in uw team is meer dan %(days)s werkdagen over de "
               "termijn: %(step)s (casus %(case)s).")


def text(kind: str, params: dict[str, Any]) -> str:
    """The words of a notification in the reader's language: TEXTS[kind] (ESCALATED for the
    escalation of an overdue task, engine/reminders.is_escalation) filled in with the
    notification's params (a value that is missing is left empty). Raises nothing."""
    values: dict[str, str | int] = {"step": "", "case": "", "by": "",
                                    "days": reminders.ESCALATE_AFTER}
    values.update({k: v for k, v in (params or {}).items() if isinstance(v, str | int)})
    if isinstance(values["step"], str):  # a task of the product's own: its name in words
        values["step"] = translate(task_name((params or {}).get("task_step"), values["step"]))
    if reminders.is_escalation(kind, params):
        return str(ESCALATED) % values
    return str(TEXTS.get(kind, kind)) % values


def for_api(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """engine.notifications.listing as GET /api/v1/notifications answers it: the text in the
    reader's language, the time as ISO 8601 UTC text, without the params."""
    return [{"id": n["id"], "at": audit.iso(n["at"]), "kind": n["kind"], "case_id": n["case_id"],
             "task_id": n["task_id"], "text": text(n["kind"], n["params"]), "read": n["read"]}
            for n in items]


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    def unread_notifications() -> int:
        """The signed-in person's unread count (one indexed count), for the page header."""
        if not current_user.is_authenticated:
            return 0
        return notifications.unread_count(current_user.principal.id)

    return {"unread_notifications": unread_notifications}


@bp.get("/berichten")
@login_required
def listing():
    items = notifications.listing(principal())
    for item in items:
        item["text"] = text(item["kind"], item["params"])
        # the task is a team member's: no link to its page (403 for them), the case's is shown
        item["escalated"] = reminders.is_escalation(item["kind"], item["params"])
    return render_template("notifications/list.html", items=items)


@bp.post("/berichten/<int:notification_id>/gelezen")
@login_required
def read(notification_id: int):
    notifications.mark_read(principal(), notification_id)
    return redirect(url_for("notifications.listing"))


@bp.post("/berichten/alles-gelezen")
@login_required
def read_all():
    count = notifications.mark_all_read(principal())
    flash(_("%(count)s berichten als gelezen gemarkeerd.", count=count), "success")
    return redirect(url_for("notifications.listing"))
