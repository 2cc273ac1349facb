"""Drafts: a half-filled task form kept on the server for one person and one task.

A draft is that person's own unfinished work, not case data: it is never part of the history,
and it is removed when the task is completed (tasks.complete_task deletes every draft of the
task in the completion's own transaction, through whichever door). Saving one is only allowed
to whoever may complete the task, and counts as a change attempt on the case in the access log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, commands, form_text, forms, stored_rows, timezones, write_refusals
from .errors import Conflict, Forbidden, Invalid
from .messages import N_, Message
from .models import Case, Draft, TaskRecord, User, utcnow
from .store import unit_of_work
from .stored_text import damaged
from .tasks import task_row
from .users import Principal, may_complete

# A draft keeps what was typed, within bounds: no unknown keys, text only (or the list of
# a multi field's ticked boxes), a size cap.
MAX_VALUE = 100_000
MAX_CHOSEN = 100
MAX_OPTION = 200  # an option value of a multi field
TOO_LONG = form_text.TOO_LONG  # clean_text's words for a text over its bound
TOO_MANY = N_("Kies hoogstens {n} mogelijkheden.")


aware = timezones.to_utc  # SQLite hands back naive datetimes; every stored time is UTC.


def _clean(fields: list[forms.Field], data: Any) -> dict[str, str | list[str]]:
    """What a draft keeps: known fields only, text (at most MAX_VALUE characters), or a list
    of texts (the ticked boxes of a multi field, at most MAX_CHOSEN of MAX_OPTION characters).
    A text is read as a completion reads it (form_text.trimmed): without the white space
    around it, and left out (the field shown empty) when white space is all it holds.
    A text with a character a completion refuses (a NUL, another control character, a bidi
    override: forms.refused_character, the rule forms.validate applies through clean_text)
    or over those bounds is Invalid (422) at its field, so nothing is saved and the draft
    stays as it was (task U point 4: such a field was silently left out, a long one cut)."""
    if not isinstance(data, dict):
        return {}
    multiline = {f.name: f.type == "text" for f in fields}
    clean: dict[str, str | list[str]] = {}
    errors: dict[str, Any] = {}
    for key, value in data.items():
        if key not in multiline:
            continue
        texts = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in texts):
            continue
        if isinstance(value, str):
            if multiline[key]:
                # a browser sends a textarea's line breaks as CR LF: kept as a completion keeps them
                value = forms.one_kind_of_line_break(value)
            # read as a completion reads it (clean_text): white space around it is no part of
            # the answer, white space alone no answer, so the field is kept empty (task W 2c)
            value = form_text.trimmed(value)
            if not value:
                continue
            texts = [value]
        problem = next((p for v in texts if (p := forms.refused_character(
            v, multiline=multiline[key] and isinstance(value, str))) is not None), None)
        longest = max(texts, key=len, default="")
        limit = MAX_VALUE if isinstance(value, str) else MAX_OPTION
        if problem is not None:
            errors[key] = problem
        elif len(longest) > limit:  # never cut silently: the draft would lose what was typed
            errors[key] = Message(TOO_LONG, n=limit, length=len(longest))
        elif len(texts) > MAX_CHOSEN:
            errors[key] = Message(TOO_MANY, n=MAX_CHOSEN)
        else:
            clean[key] = value
    if errors:
        raise Invalid(_refusal({e.template for e in errors.values()}), errors)
    return clean


def _refusal(kinds: set[str]) -> str:
    """The banner over a refused draft, naming what is wrong (each field says it too): a
    character, a text too long, or too many ticked boxes (that one said "te lang": task W
    point 2a)."""
    if kinds - {TOO_LONG, TOO_MANY}:
        return N_("Het concept is niet opgeslagen: het formulier bevat een teken dat niet is "
                  "toegestaan.")
    if TOO_LONG in kinds:
        return N_("Het concept is niet opgeslagen: een veld is te lang.")
    return Message(N_("Het concept is niet opgeslagen: bij een vraag zijn meer dan {n} "
                      "mogelijkheden aangevinkt."), n=MAX_CHOSEN)


def save(who: Principal, task_id: Any, data: Any) -> dict[str, Any]:
    """Keep a draft of a task's form for this person; replaces an earlier draft.

    In: the person, the task id, the typed answers ({field: text or list of texts}). Keeps
    only the answers to fields on this case's form (forms.shown_fields, the rule a completion
    applies; a field its shown_when leaves off, such as a KNMG point in a nurse's case, is
    dropped), as _clean bounds them. Out: {"task_id", "data": what was kept, "saved_at"}.
    Raises Forbidden (403) for whoever may not complete the task (logged as denied), Conflict
    (409) when the task is no longer ready, NotFound for an unknown task, Invalid (422, the
    field's error in Dutch, nothing saved) for a text with a character a completion refuses
    or over _clean's bounds."""
    from .versions import definition_for

    try:
        with unit_of_work(write=True) as session:
            return _save(session, who, task_id, data, definition_for)
    except _Denied as denied:
        _log_denied(who, denied.case_id)
        raise Forbidden(N_("Deze taak is niet voor u.")) from None
    except _Refused as refused:  # logged save_draft:conflict, denied, as every door's (NEN 7513)
        raise commands.refusal_logged(who, [refused.case_id], "save_draft", refused.error) from None


class _Denied(Exception):
    def __init__(self, case_id: int):
        super().__init__(case_id)
        self.case_id = case_id


class _Refused(Exception):
    """A draft refused on a damaged case or task row (stored_rows.DamagedCase `error`)."""

    def __init__(self, case_id: int, error: stored_rows.DamagedCase):
        super().__init__(case_id)
        self.case_id, self.error = case_id, error


def _save(session: Session, who: Principal, task_id: Any, data: Any, definition_for) -> dict:
    row = _ready_row(session, task_id)
    case = _locked_case(session, row)
    user = session.get(User, who.id)
    if row.step == "consult":  # the product's own task, only for the person consulted
        from . import consults  # consults builds on cases: imported when needed

        if user is None or not consults.consulted(session, who, row.id):
            raise _Denied(case.id)
        fields = consults.FORM
    elif user is None or not may_complete(who, case, row.lane):
        raise _Denied(case.id)
    # a draft builds on the case's data and version: never on a damaged row, a broken seal
    # or a state that does not load (issue 11)
    try:
        write_refusals.refuse_damaged(case)
        write_refusals.refuse_broken_tasks(case, [row])  # damaged, seal, owner (issue 11)
    except stored_rows.DamagedCase as error:
        raise _Refused(case.id, error) from None
    if row.step != "consult":
        # only the fields on this case's form, as a completion takes them (forms.validate):
        # an answer to one its shown_when leaves off is never posted, can contradict the
        # answers shown, and would keep free text about a client in the draft for good
        fields = forms.shown_fields(
            definition_for(session, case.process_version).steps[row.step].fields, case.data)
    clean = _clean(list(fields), data)
    draft = session.scalar(select(Draft).where(Draft.user_id == who.id, Draft.task_id == row.id))
    now = utcnow()
    if draft is None:
        session.add(Draft(user_id=who.id, task_id=row.id, data=clean, saved_at=now))
    else:
        draft.data = clean
        draft.saved_at = now
    audit.log_access(session, user, "save_draft", "ok", case=case, source=who.source)
    return {"task_id": row.id, "data": clean, "saved_at": now}


def load(session: Session, who: Principal, task_id: str) -> dict[str, Any] | None:
    """This person's draft of a task, or None. The caller has checked access to the task."""
    draft = session.scalar(select(Draft).where(Draft.user_id == who.id, Draft.task_id == task_id))
    if draft is None:
        return None
    return {"task_id": draft.task_id, "data": dict(draft.data or {}),
            "saved_at": aware(draft.saved_at)}


def _ready_row(session: Session, task_id: Any) -> TaskRecord:
    row = task_row(session, task_id)
    if row.state != "ready" and not damaged(row.state):  # damaged: refused after access
        raise Conflict(N_("Deze taak is al afgerond of staat niet meer open."), case_id=row.case_id)
    return row


def _locked_case(session: Session, row: TaskRecord) -> Case:
    """The task's case, its row locked (PostgreSQL; SQLite's write lock serialises the whole
    write already), and the task still ready as read after the lock, else Conflict (409).

    A completion, a cancellation by the engine and a handover lock the case row first and
    delete the task's (or the old owner's) drafts in their own transaction. Without this lock a
    save that read the task as ready while one of them ran would insert its draft after that
    delete, a draft of a completed task (free text about a client) kept for good. With it,
    either the save waits and then sees the task gone (and the owner changed), or the other
    waits for the save and deletes its draft."""
    case = session.scalars(select(Case).where(Case.id == row.case_id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    session.refresh(row)
    if row.state != "ready" and not damaged(row.state):  # damaged: refused after access
        raise Conflict(N_("Deze taak is al afgerond of staat niet meer open."), case_id=row.case_id)
    return case


def _log_denied(who: Principal, case_id: int) -> None:
    # The refusal is logged in its own transaction: the caller's one rolls back.
    with unit_of_work(write=True) as session:
        user = session.get(User, who.id)
        case = session.get(Case, case_id)
        audit.log_access(session, user or who.name, "save_draft", "denied", case=case,
                         source=who.source)
