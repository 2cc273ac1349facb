"""What the auditor works with: cases by filter, a case's history frame by frame, and who
has looked at a case. Every function here is for auditors only, and every use is logged."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, cases, commands, entries, listings, pages, replay, stored_rows, timezones, verification
from .errors import Invalid
from .messages import N_, Message
from .models import STATUSES as STATUSES  # CONTRACT section 1; here for their users
from .models import UITKOMSTEN as UITKOMSTEN
from .models import AccessLogEntry, Case, HistoryEvent, ProcessVersion, TaskRecord, User
from .roles import AUDITOR
from .store import unit_of_work
from .versions import active_version, definition_for, is_gone, readable_definition
from .write_refusals import read_damage

PER_PAGE = 50
MAX_PAGE = 1_000_000  # 50 million cases: more than any organisation will keep
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)
# A day as the date field sends it: date.fromisoformat alone also takes 20260301 and an ISO
# week date of the same length (2026-W10-1), which no one types for a day.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def dutch_midnight(day: dt.date) -> dt.datetime:
    """The start of Dutch calendar day `day` (00:00 Europe/Amsterdam, summer time included)
    as an aware UTC datetime: the bound of a filter on days as the pages show them."""
    return dt.datetime.combine(day, dt.time(), tzinfo=timezones.DISPLAY_ZONE).astimezone(dt.UTC)


def _require_auditor(who, case_id: int | None, action: str) -> None:
    if not who.has_role(AUDITOR):
        raise commands.Denied(N_("Alleen een auditor mag dit inzien."), case_id, action)


@dataclass
class CaseFilter:
    status: str | None = None
    uitkomst: str | None = None
    started_from: dt.date | None = None
    started_to: dt.date | None = None
    step: str | None = None  # cases with a task at this step, ready or done
    process_version: int | None = None
    page: int = 1
    search: dict[str, str] = field(default_factory=dict)  # listings.parse_search: client_ref, owner

    @classmethod
    def parse(cls, args: dict[str, Any]) -> CaseFilter:
        """From query parameters; unknown values are refused with Dutch messages."""
        errors: dict[str, str] = {}
        f = cls()

        def text(name):
            value = (args.get(name) or "").strip()
            return value or None

        f.status = text("status")
        if f.status and f.status not in STATUSES:
            errors["status"] = N_("Kies open of afgesloten.")
        f.uitkomst = text("uitkomst")
        if f.uitkomst and f.uitkomst not in UITKOMSTEN:
            errors["uitkomst"] = N_("Onbekende uitkomst.")
        for name in ("started_from", "started_to"):
            value = text(name)
            if value:
                try:
                    day = dt.date.fromisoformat(value) if _DAY.fullmatch(value) else None
                except ValueError:
                    day = None
                if day is None:
                    errors[name] = N_("Vul een datum in als JJJJ-MM-DD.")
                    continue
                # A day at the edge of what a date holds (0001-01-01, 9999-12-31) has no
                # day before or after it to bound a query with.
                if not FIRST_DAY <= day <= LAST_DAY:
                    errors[name] = Message(N_("Vul een datum in tussen {first} en {last}."),
                                           first=f"{FIRST_DAY:%d-%m-%Y}",
                                           last=f"{LAST_DAY:%d-%m-%Y}")
                else:
                    setattr(f, name, day)
        if f.started_from and f.started_to and f.started_to < f.started_from:
            # as the overview for toezicht says it (engine/management.parse_period)
            errors["started_to"] = N_("De einddatum ligt vóór de begindatum.")
        f.search, found = listings.parse_search(args)
        errors.update(found)
        f.step = text("step")
        if f.step and len(f.step) > 200:
            errors["step"] = N_("Te lang.")
        elif f.step and any(ord(c) < 32 for c in f.step):
            errors["step"] = N_("Onbekende stap.")
        for name, default, highest, message in (
                ("process_version", None, commands.MAX_ID, N_("Vul een bestaand versienummer in.")),
                ("page", 1, MAX_PAGE,
                 Message(N_("Vul een paginanummer van 1 tot en met {n} in."), n=MAX_PAGE))):
            value = text(name)
            if value is None:
                setattr(f, name, default)
                continue
            # Digits only: int() would also take "1_000" and other scripts' digits.
            number = int(value) if value.isascii() and value.isdigit() and len(value) < 20 \
                else None
            if number is None:
                errors[name] = N_("Vul een getal in.")
            elif not 1 <= number <= highest:
                # Beyond it the query's offset or id no longer fits the database (PostgreSQL
                # integers have 32 bits, offsets 64).
                errors[name] = message
            else:
                setattr(f, name, number)
        if errors:
            raise Invalid(N_("Ongeldig filter."), errors)
        return f


def find_cases(who, flt: CaseFilter) -> dict[str, Any]:
    def run(session: Session):
        _require_auditor(who, None, "search")
        query = select(Case.id, Case.client_ref, Case.status, Case.uitkomst, Case.started_at,
                       Case.closed_at, Case.process_version, User.name.label("owner")
                       ).join(User, Case.owner_id == User.id)
        # practice mode's fictional cases (engine/practice.py) are in no list nor figure
        query = query.where(Case.practice.is_(False))
        if flt.status:
            query = query.where(Case.status == flt.status)
        if flt.uitkomst:
            query = query.where(Case.uitkomst == flt.uitkomst)
        # Dutch calendar days, as the list shows the start (and as the overview for toezicht
        # counts them, engine/management.py)
        if flt.started_from:
            query = query.where(Case.started_at >= dutch_midnight(flt.started_from))
        if flt.started_to:
            query = query.where(
                Case.started_at < dutch_midnight(flt.started_to + dt.timedelta(days=1)))
        if flt.process_version is not None:
            query = query.where(Case.process_version == flt.process_version)
        query = query.where(*listings.search_conditions(flt.search))
        if flt.step:
            query = query.where(Case.id.in_(
                select(TaskRecord.case_id).where(TaskRecord.step == flt.step)))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(Case.id.desc()).limit(PER_PAGE).offset((flt.page - 1) * PER_PAGE)
        ).all()
        # that a search was made (also one that found nothing), and each case it showed
        audit.log_access(session, who, "search", "ok", source=who.source)
        listings.log_shown(session, who, listings.SHOWN_IN_SEARCH, (r.id for r in rows))
        return {
            "total": total,
            "page": flt.page,
            "pages": max(1, -(-total // PER_PAGE)),
            "cases": [
                {"id": r.id, "client_ref": r.client_ref, "status": r.status,
                 "uitkomst": r.uitkomst, "started_at": timezones.to_utc(r.started_at),
                 "closed_at": timezones.to_utc(r.closed_at),
                 "process_version": r.process_version, "owner": r.owner}
                for r in rows
            ],
        }

    return commands.run_command(who, run)


def step_through(who, case_id: Any, stamp: timezones.Stamp = audit.iso) -> dict[str, Any]:
    """The case as it was after each event (replay.frames, each event's `at` as `stamp` gives
    it: ISO 8601 UTC text by default, an aware UTC datetime with timezones.to_utc), the
    verify result and `damaged` (stored_rows.damage, or None); no frames when the case's
    version is gone (versions.readable_definition). Auditors only (Forbidden otherwise), the
    read logged; NotFound."""

    def run(session: Session):
        case = cases.open_case(session, who, case_id, "read_history", auditors_only=True)
        events = list(session.scalars(
            select(HistoryEvent).where(HistoryEvent.case_id == case.id).order_by(HistoryEvent.seq)
        ))
        # a version that is gone: no replay, so no frames; verify and `damaged` name it
        definition = readable_definition(session, case.process_version)
        frames = [] if is_gone(definition) else replay.frames(definition, case.id, events, stamp=stamp)
        return {
            "case": {"id": case.id, "client_ref": case.client_ref, "status": case.status,
                     "uitkomst": case.uitkomst, "process_version": case.process_version,
                     "practice": case.practice},  # marks the page (engine/practice.py)
            # stored damaged, a broken seal or state included: said, as on the case page
            "damaged": stored_rows.damage(case, events, read_damage(case)),
            "frames": frames,
            "verify": verification.verify_case(session, case).as_dict(),
        }

    return commands.run_command(who, run)


def viewers(who, case_id: Any) -> dict[str, Any]:
    """'Wie heeft dit dossier ingezien': per person, what they did and when (first and last as
    aware UTC datetimes, for the page to show), for a client. Auditors only, the read logged."""

    def run(session: Session):
        case = cases.open_case(session, who, case_id, "read_access_log", auditors_only=True)
        session.flush()
        rows = session.execute(
            select(AccessLogEntry.user, AccessLogEntry.role, AccessLogEntry.outcome,
                   func.count(), func.min(AccessLogEntry.at), func.max(AccessLogEntry.at))
            .where(AccessLogEntry.case_id == case.id)
            .group_by(AccessLogEntry.user, AccessLogEntry.role, AccessLogEntry.outcome)
            .order_by(func.min(AccessLogEntry.at))
        ).all()
        names = dict(session.execute(select(User.name, User.display_name)
                                     .where(User.name.in_({r[0] for r in rows}))).all())
        return {
            "case": {"id": case.id, "client_ref": case.client_ref, "practice": case.practice},
            "people": [
                {"user": user, "name": names.get(user) or user, "role": role, "outcome": outcome,
                 "count": count, "first": timezones.to_utc(first), "last": timezones.to_utc(last)}
                for user, role, outcome, count, first, last in rows
            ],
        }

    return commands.run_command(who, run)


# --- the auditor's pages in the web UI: each page one call, composed from the above ---------

FILTER_FIELDS = ("client_ref", "owner", "status", "uitkomst", "started_from", "started_to", "step",
                 "process_version")


def search_page(who, args: dict[str, Any]) -> dict[str, Any]:
    """The case search page: the filter as typed, its field errors, a page of cases, and the
    choices of the filter form (the steps of the active process and the deployed versions)."""
    values = {name: str(args.get(name) or "").strip() for name in FILTER_FIELDS}
    errors: dict[str, str] = {}
    try:
        flt = CaseFilter.parse(args)
    except Invalid as exc:
        errors = dict(exc.errors)
        # No search without a valid filter, but a refusal is still a refusal (and logged).
        commands.run_command(who, lambda session: _require_auditor(who, None, "search"))
        result = None
    else:
        result = find_cases(who, flt)
    with unit_of_work() as session:
        versions = list(session.scalars(
            select(ProcessVersion.version).order_by(ProcessVersion.version.desc())))
        active = active_version(session)
        steps: list[tuple[str, str]] = []
        if active is not None:
            definition = definition_for(session, active.version)
            steps = [(s.id, s.name) for s in definition.steps.values()]
    if values["step"] and values["step"] not in dict(steps):
        steps.append((values["step"], values["step"]))
    return {"values": values, "errors": errors, "result": result, "steps": steps,
            "versions": versions, "statuses": STATUSES, "uitkomsten": UITKOMSTEN}


def history_page(who, case_id: Any) -> dict[str, Any]:
    """The step-through page: after each event, the diagram's marks (done, current, skipped,
    as the case page draws them), what that event recorded and all data known then, labelled
    from the form definitions; and the verify result. Each frame's `at` is an aware UTC
    datetime, for the page to show in Dutch time."""
    found = step_through(who, case_id, stamp=timezones.to_utc)
    with unit_of_work() as session:
        definition = readable_definition(session, found["case"]["process_version"])
        actors = {f["actor"] for f in found["frames"]}
        display = dict(session.execute(
            select(User.name, User.display_name).where(User.name.in_(actors))
        ).all()) if actors else {}
    info = pages.diagram_info(definition)
    every_field = list({f.name: f for s in definition.steps.values() for f in s.fields}.values())
    step_names = {**info.names, **{s.id: s.name for s in definition.steps.values()}}
    decided: set[str] = set()
    frames = []
    for number, frame in enumerate(found["frames"], start=1):
        if frame["action"] == "decision_made" and frame["step"]:
            decided.add(frame["step"])
        state = {"completed_steps": frame["completed_steps"], "status": frame["status"],
                 "tasks": [{"step": s} for s in frame["ready_steps"]]}
        step = definition.steps.get(frame["step"]) if frame["step"] else None
        frames.append({
            **frame,
            "number": number,
            "actor_name": display.get(frame["actor"]) or frame["actor"],
            "step_name": step_names.get(frame["step"] or "", frame["step"]),
            "markers": pages.path_markers(definition, info, state, decided),
            "recorded": entries.labelled(entries.event_fields(step, frame["action"]),
                                         dict(frame["event_data"] or {})),
            "known": entries.labelled(every_field, frame["data"]),
        })
    return {"case": found["case"], "frames": frames, "verify": found["verify"],
            "step_names": step_names, "damaged": found["damaged"]}


def access_log(who, case_id: Any, stamp: timezones.Stamp = audit.iso) -> list[dict[str, Any]]:
    """Every attempt to read or change the case (NEN 7513), oldest first: [{"at", "user",
    "role", "action", "outcome", "on_behalf_of", "source", "client_ref"}] with `at` as `stamp`
    gives it: ISO 8601 UTC text by default (GET /api/v1/cases/{id}/access-log), an aware UTC
    datetime with timezones.to_utc (the auditor's page). Auditors only (Forbidden otherwise),
    and this read is logged too; NotFound for a case that does not exist."""
    return commands.run_command(who, lambda session: _access_entries(
        session, cases.open_case(session, who, case_id, "read_access_log", auditors_only=True),
        stamp))


def _access_entries(session: Session, case: Case, stamp: timezones.Stamp) -> list[dict[str, Any]]:
    session.flush()  # this read's own entry too
    rows = session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.case_id == case.id).order_by(AccessLogEntry.id))
    return [
        {"at": stamp(r.at), "user": r.user, "role": r.role, "action": r.action,
         "outcome": r.outcome, "on_behalf_of": r.on_behalf_of, "source": r.source,
         "client_ref": r.client_ref}
        for r in rows
    ]


def access_log_page(who, case_id: Any) -> dict[str, Any]:
    """The access-log page: the case's head and access_log's entries (`at` an aware UTC
    datetime, for the page to show in Dutch time) with the names and roles of the people in
    them. Auditors only (Forbidden otherwise), and this read is logged; NotFound."""

    def run(session: Session) -> dict[str, Any]:
        case = cases.open_case(session, who, case_id, "read_access_log", auditors_only=True)
        entries = _access_entries(session, case, timezones.to_utc)
        names = dict(session.execute(
            select(User.name, User.display_name).where(User.name.in_({e["user"] for e in entries}))
        ).all())
        for entry in entries:
            entry["name"] = names.get(entry["user"]) or entry["user"]
            entry["roles"] = [r for r in (entry["role"] or "").split(",") if r]
        return {"case": {"id": case.id, "client_ref": case.client_ref, "status": case.status,
                         "uitkomst": case.uitkomst, "practice": case.practice},
                "entries": entries}

    return commands.run_command(who, run)
