"""The case dossier as data (what was recorded, in the order it happened, with its
verification) and the NEN 7513 access log of a case. The engine gives codes and values; the
web layer (webui/documents.py) turns them into words: the JSON evidence file, the PDF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, cases, commands, entries, links, verification, versions, write_refusals
from .messages import N_
from .models import AccessLogEntry, Case, HistoryEvent, User, utcnow
from .store import unit_of_work
from .stored_rows import damage
from .stored_time import damaged_time
from .users import may_read_case

# The afwegingskader's variables in the order the dossier presents them (the questions, in
# words, are webui.documents.AFWEGINGSKADER).
AFWEGINGSKADER = ("vermoeden", "acute_onveiligheid", "structurele_onveiligheid", "hulp_mogelijk",
                  "hulp_aanvaard", "besluit_melden", "besluit_hulp", "hulp_effectief")
VEILIG_THUIS_FIELDS = ("advies_veilig_thuis", "veilig_thuis_contact", "veilig_thuis_advies",
                       "melding_datum", "melding_veilig_thuis_medewerker", "melding_informatie",
                       "melding_afspraken")


def element_names(definition) -> dict[str, str]:
    """Every named element of a process version by its id: the steps people complete and the
    engine's own elements (a decision table, an end event), so nothing shows a raw id."""
    names = {task_spec.bpmn_id: task_spec.bpmn_name
             for task_spec in getattr(definition.spec, "task_specs", {}).values()
             if getattr(task_spec, "bpmn_id", None) and getattr(task_spec, "bpmn_name", None)}
    names.update({step_id: step.name for step_id, step in definition.steps.items()})
    return names


def _recorded(label: str, kind: str, options: dict, value: Any) -> dict[str, Any]:
    """A recorded value with what the diagram says about it: its label, its type and, for an
    option, the option's label (None otherwise)."""
    return {"label": label, "type": kind, "value": value,
            "option_label": entries.option_label(options, value)}


def _stamp(at: Any) -> str | None:
    """A stored time as ISO 8601 UTC text; None for a time stored damaged (never its 1970)."""
    return None if damaged_time(at) else audit.iso(at)


def build(session: Session, case: Case) -> dict[str, Any]:
    """Everything an inspector needs, in the order it happened, as data: codes (status,
    uitkomst, actions, variables), recorded values, the diagram's own names and labels, times
    as ISO 8601 text in UTC ('Z'). No text of the product's own: webui.documents words it.

    - case: id, client_ref, reason, status, uitkomst (code or None), process_version,
      owner, owner_name, started_at, closed_at (None while open); practice: true for a
      practice case's fictional dossier (engine/practice.py), absent otherwise; linked_cases:
      the ids of the cases linked to it either way (engine/links.py)
    - steps: per completed step seq, step (element id), name, at, actor and fields, each
      {name, label, type, value, option_label}
    - afwegingskader: [{variable, value}] in AFWEGINGSKADER's order, those recorded
    - veilig_thuis: [{variable, label, type, value, option_label}], those recorded
    - history: every event {seq, at, actor, action, step, step_name, data, hash}
    - verification: verify's verdict with last_hash; process_sha256 (None when the version
      is gone: versions.readable_definition)
    A time stored damaged is None, and case["damaged"] says what is damaged (stored_rows.damage,
    a broken seal or unloadable state included: write_refusals.read_damage).
    """
    # a version that is gone (cases.process_version changed outside): the dossier from the
    # history, without the diagram's names, the damage named in case["damaged"] (issue 11)
    definition = versions.readable_definition(session, case.process_version)
    labels: dict[str, tuple[str, str, dict]] = {}
    for defined in definition.steps.values():
        for f in defined.fields:
            labels[f.name] = (f.label, f.type, {o.value: o.label for o in f.options})
    names = element_names(definition)
    events = list(session.scalars(
        select(HistoryEvent).where(HistoryEvent.case_id == case.id).order_by(HistoryEvent.seq)
    ))
    steps = []
    for e in events:
        if e.action != "task_completed":
            continue
        step = definition.steps.get(e.step or "")
        fields = [{"name": name, **_recorded(*labels.get(name, (name, "string", {})), value)}
                  for name, value in e.data.items()]
        steps.append({"seq": e.seq, "step": e.step, "name": step.name if step else e.step,
                      "at": _stamp(e.at), "actor": e.actor, "fields": fields})
    data = case.data
    verdict = verification.verify_case(session, case)
    owner = session.get(User, case.owner_id)
    # a practice case (engine/practice.py) says so; a real case's dossier is as it was
    marked: dict[str, Any] = {"practice": True} if case.practice else {}
    damaged = damage(case, events, write_refusals.read_damage(case))  # a seal, a state too
    if damaged is not None:
        marked["damaged"] = damaged
    return {
        "case": {
            **marked,
            "id": case.id, "client_ref": case.client_ref, "reason": case.reason,
            "status": case.status, "uitkomst": case.uitkomst,
            "process_version": case.process_version,
            "owner": owner.name if owner else None,
            "owner_name": owner.display_name if owner else None,
            "started_at": _stamp(case.started_at),
            "closed_at": _stamp(case.closed_at) if case.closed_at else None,
            "linked_cases": links.linked_ids(session, case.id),  # either way (engine/links.py)
        },
        "steps": steps,
        "afwegingskader": [{"variable": v, "value": data.get(v)}
                           for v in AFWEGINGSKADER if v in data],
        "veilig_thuis": [{"variable": v, **_recorded(*labels.get(v, (v, "string", {})), data[v])}
                         for v in VEILIG_THUIS_FIELDS if v in data],
        "history": [
            {"seq": e.seq, "at": _stamp(e.at), "actor": e.actor, "action": e.action,
             "step": e.step, "step_name": names.get(e.step or "", e.step), "data": e.data,
             "hash": e.hash}
            for e in events
        ],
        "verification": {**verdict.as_dict(), "last_hash": case.last_hash},
        "process_sha256": definition.sha256 or None,  # None: the version is gone
    }


def export(who, case_id: Any, on_behalf_of: str | None = None,
           deliver: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The dossier of a case as data (build's dict, with exported_at: ISO 8601 UTC, and
    exported_by: a user name), for `who`: a Principal who may read the case, or a name (str)
    for the command line's operator, logged under that name with that user's roles when the
    name is a user of the product.

    The export is logged (NEN 7513, outcome ok) once `deliver` (given the dossier: the caller
    makes and hands over its file) has returned, in a transaction of its own: an export that
    failed or was interrupted (deliver raised, Ctrl-C included) leaves no line saying it was
    made (task V point 2; the log's outcomes are ok and denied only, CONTRACT section 4).
    A refusal is logged at once. Raises NotFound for an unknown case, Forbidden (a logged
    Denied) for a Principal who may not read it, and what deliver raises."""

    def run(session: Session, actor=who):
        case = commands.load_case(session, case_id)
        if not isinstance(who, str) and not may_read_case(session, who, case):
            raise commands.Denied(N_("U heeft geen toegang tot deze casus."), case.id, "export")
        dossier = build(session, case)
        dossier["exported_at"] = audit.iso(utcnow())
        dossier["exported_by"] = actor if isinstance(actor, str) else actor.name
        return dossier, actor, case.id

    if isinstance(who, str):
        # The command line, run by an operator: logged under the name given, with that
        # user's roles when the name is a user of the product.
        with unit_of_work() as session:
            user = session.scalar(select(User).where(User.name == who))
            dossier, actor, found = run(session, user if user is not None else who)
    else:
        dossier, actor, found = commands.run_command(who, run, write=False)
    if deliver is not None:
        deliver(dossier)
    with unit_of_work(write=True) as session:
        audit.log_access(session, actor, "export", "ok", case=session.get(Case, found),
                         case_id=found, source=getattr(who, "source", None),
                         on_behalf_of=on_behalf_of)
    return dossier


def access_log(who, case_id: Any) -> list[dict[str, Any]]:
    """Every attempt to read or change the case; auditors only, and this read is logged too."""

    def run(session: Session):
        case = cases.open_case(session, who, case_id, "read_access_log", auditors_only=True)
        session.flush()
        rows = session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.case_id == case.id)
            .order_by(AccessLogEntry.id)
        )
        return [
            {"at": audit.iso(r.at), "user": r.user, "role": r.role, "action": r.action,
             "outcome": r.outcome, "on_behalf_of": r.on_behalf_of, "source": r.source,
             "client_ref": r.client_ref}
            for r in rows
        ]

    return commands.run_command(who, run)
