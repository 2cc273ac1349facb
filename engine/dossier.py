"""The case dossier (JSON and PDF) and the NEN 7513 access log of a case."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, replay, runtime
from .store import AccessLogEntry, Case, HistoryEvent, User, unit_of_work, utcnow
from .users import may_read_case

UITKOMST_LABELS = {
    "gemeld": "Gemeld bij Veilig Thuis",
    "hulp": "Hulp geboden of georganiseerd",
    "gemeld_en_hulp": "Gemeld bij Veilig Thuis en hulp geboden",
    "zorgen_weggenomen": "Zorgen weggenomen in het gesprek",
    "geen_vermoeden": "Geen vermoeden van huiselijk geweld of kindermishandeling",
}
ACTION_LABELS = {
    "case_started": "Casus gestart",
    "task_completed": "Stap afgerond",
    "decision_made": "Besluit door de beslistabel",
    "case_closed": "Casus afgesloten",
    "case_handed_over": "Casus overgedragen",
    "case_shared": "Casus gedeeld",
    "case_stalled": "Casus staat vast: geen taak open",
    "case_migrated": "Casus verplaatst naar een andere procesversie",
}
# The afwegingskader as the dossier presents it: question, variable.
AFWEGINGSKADER = [
    ("1. Is er een vermoeden van (dreiging van) huiselijk geweld of kindermishandeling?", "vermoeden"),
    ("2a. Is er sprake van acute onveiligheid?", "acute_onveiligheid"),
    ("2b. Is er sprake van structurele onveiligheid?", "structurele_onveiligheid"),
    ("3. Kan de professional effectieve hulp bieden of organiseren?", "hulp_mogelijk"),
    ("4. Aanvaarden de betrokkenen de hulp en werken zij mee?", "hulp_aanvaard"),
    ("Besluit: melden bij Veilig Thuis", "besluit_melden"),
    ("Besluit: hulp bieden of organiseren", "besluit_hulp"),
    ("5. Leidt de hulp tot duurzame veiligheid?", "hulp_effectief"),
]
VEILIG_THUIS_FIELDS = ("advies_veilig_thuis", "veilig_thuis_contact", "veilig_thuis_advies",
                       "melding_datum", "melding_veilig_thuis_medewerker", "melding_informatie",
                       "melding_afspraken")


def display(value: Any, field_type: str | None = None, options: dict | None = None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Ja" if value else "Nee"
    if options and value in options:
        return options[value]
    return str(value)


def build(session: Session, case: Case) -> dict[str, Any]:
    """Everything an inspector needs, in the order it happened."""
    definition = runtime.definition_for(session, case.process_version)
    labels: dict[str, tuple[str, str, dict]] = {}
    for step in definition.steps.values():
        for f in step.fields:
            labels[f.name] = (f.label, f.type, {o.value: o.label for o in f.options})
    events = list(session.scalars(
        select(HistoryEvent).where(HistoryEvent.case_id == case.id).order_by(HistoryEvent.seq)
    ))
    steps = []
    for e in events:
        if e.action != "task_completed":
            continue
        step = definition.steps.get(e.step)
        fields = []
        for name, value in e.data.items():
            label, kind, options = labels.get(name, (name, "string", {}))
            fields.append({"name": name, "label": label, "value": value,
                           "display": display(value, kind, options)})
        steps.append({"seq": e.seq, "step": e.step, "name": step.name if step else e.step,
                      "at": audit.iso(e.at), "actor": e.actor, "fields": fields})
    data = case.data
    verdict = replay.verify_case(session, case)
    owner = session.get(User, case.owner_id)
    return {
        "case": {
            "id": case.id, "client_ref": case.client_ref, "reason": case.reason,
            "status": case.status, "uitkomst": case.uitkomst,
            "uitkomst_label": UITKOMST_LABELS.get(case.uitkomst or "", "Nog open"),
            "process_version": case.process_version,
            "owner": owner.name if owner else None,
            "owner_name": owner.display_name if owner else None,
            "started_at": audit.iso(case.started_at),
            "closed_at": audit.iso(case.closed_at) if case.closed_at else None,
        },
        "steps": steps,
        "afwegingskader": [
            {"question": q, "variable": v, "value": data.get(v), "display": display(data.get(v))}
            for q, v in AFWEGINGSKADER if v in data
        ],
        "veilig_thuis": [
            {"variable": v, "label": labels.get(v, (v,))[0], "value": data.get(v),
             "display": display(data.get(v))}
            for v in VEILIG_THUIS_FIELDS if v in data
        ],
        "history": [
            {"seq": e.seq, "at": audit.iso(e.at), "actor": e.actor, "action": e.action,
             "action_label": ACTION_LABELS.get(e.action, e.action), "step": e.step,
             "data": e.data, "hash": e.hash}
            for e in events
        ],
        "verification": {**verdict.as_dict(), "last_hash": case.last_hash},
        "process_sha256": definition.sha256,
    }


_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def local_time(iso_text: str | None) -> str:
    """An ISO timestamp as Dutch people read it, in Dutch time."""
    if not iso_text:
        return "—"
    at = datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone(_AMSTERDAM)
    return at.strftime("%d-%m-%Y %H:%M:%S")


_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_env.filters["local_time"] = local_time


def render_html(dossier: dict[str, Any]) -> str:
    return _env.get_template("dossier.html").render(d=dossier)


def render_pdf(dossier: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    return HTML(string=render_html(dossier)).write_pdf()


def export(who, case_id: Any, fmt: str, on_behalf_of: str | None = None) -> tuple[bytes, dict]:
    """The dossier as PDF or JSON bytes; the export is logged (NEN 7513)."""
    import json

    if fmt not in ("pdf", "json"):
        raise ValueError("formaat moet pdf of json zijn")

    def run(session: Session, actor=who):
        case = runtime._load_case(session, case_id)
        if not isinstance(who, str) and not may_read_case(session, who, case):
            raise runtime.Denied("U heeft geen toegang tot deze casus.", case.id, "export")
        audit.log_access(session, actor, "export", "ok", case=case,
                         source=getattr(who, "source", None), on_behalf_of=on_behalf_of)
        dossier = build(session, case)
        dossier["exported_at"] = audit.iso(utcnow())
        dossier["exported_by"] = actor if isinstance(actor, str) else actor.name
        return dossier

    if isinstance(who, str):
        # The command line, run by an operator: logged under the name given, with that
        # user's roles when the name is a user of the product.
        with unit_of_work(write=True) as session:
            user = session.scalar(select(User).where(User.name == who))
            dossier = run(session, user if user is not None else who)
    else:
        dossier = runtime._command(who, run)
    if fmt == "json":
        return json.dumps(dossier, ensure_ascii=False, indent=2).encode(), dossier
    return render_pdf(dossier), dossier


def access_log(who, case_id: Any) -> list[dict[str, Any]]:
    """Every attempt to read or change the case; auditors only, and this read is logged too."""

    def run(session: Session):
        case = runtime.open_case(session, who, case_id, "read_access_log", auditors_only=True)
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

    return runtime._command(who, run)
