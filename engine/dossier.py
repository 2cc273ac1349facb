"""The case dossier (JSON and PDF) and the NEN 7513 access log of a case."""

from __future__ import annotations

import mimetypes
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, cases, commands, timezones, verification, versions
from .messages import N_
from .models import AccessLogEntry, Case, HistoryEvent, User, utcnow
from .store import unit_of_work
from .users import may_read_case

UITKOMST_LABELS = {
    "gemeld": N_("Gemeld bij Veilig Thuis"),
    "hulp": N_("Hulp geboden of georganiseerd"),
    "gemeld_en_hulp": N_("Gemeld bij Veilig Thuis en hulp geboden"),
    "zorgen_weggenomen": N_("Zorgen weggenomen in het gesprek"),
    "geen_vermoeden": N_("Geen vermoeden van huiselijk geweld of kindermishandeling"),
}
ACTION_LABELS = {
    "case_started": N_("Casus gestart"),
    "task_completed": N_("Stap afgerond"),
    "decision_made": N_("Besluit door de beslistabel"),
    "case_closed": N_("Casus afgesloten"),
    "case_handed_over": N_("Casus overgedragen"),
    "case_shared": N_("Casus gedeeld"),
    "case_stalled": N_("Casus staat vast: geen taak open"),
    "case_migrated": N_("Casus verplaatst naar een andere procesversie"),
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
    """A recorded value as the dossier shows it: Ja/Nee, an option's label, a date in Dutch."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Ja" if value else "Nee"
    if options and value in options:
        return options[value]
    if field_type == "date" and isinstance(value, str):
        try:
            return dutch_date(date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def element_names(definition) -> dict[str, str]:
    """Every named element of a process version by its id: the steps people complete and the
    engine's own elements (a decision table, an end event), so nothing shows a raw id."""
    names = {task_spec.bpmn_id: task_spec.bpmn_name
             for task_spec in getattr(definition.spec, "task_specs", {}).values()
             if getattr(task_spec, "bpmn_id", None) and getattr(task_spec, "bpmn_name", None)}
    names.update({step_id: step.name for step_id, step in definition.steps.items()})
    return names


def build(session: Session, case: Case) -> dict[str, Any]:
    """Everything an inspector needs, in the order it happened."""
    definition = versions.definition_for(session, case.process_version)
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
        fields = []
        for name, value in e.data.items():
            label, kind, options = labels.get(name, (name, "string", {}))
            fields.append({"name": name, "label": label, "value": value,
                           "display": display(value, kind, options)})
        steps.append({"seq": e.seq, "step": e.step, "name": step.name if step else e.step,
                      "at": audit.iso(e.at), "actor": e.actor, "fields": fields})
    data = case.data
    verdict = verification.verify_case(session, case)
    owner = session.get(User, case.owner_id)
    return {
        "case": {
            "id": case.id, "client_ref": case.client_ref, "reason": case.reason,
            "status": case.status, "uitkomst": case.uitkomst,
            "uitkomst_label": UITKOMST_LABELS.get(case.uitkomst or "", N_("Nog open")),
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
             "display": display(data.get(v), *labels.get(v, (v, None, None))[1:])}
            for v in VEILIG_THUIS_FIELDS if v in data
        ],
        "history": [
            {"seq": e.seq, "at": audit.iso(e.at), "actor": e.actor, "action": e.action,
             "action_label": ACTION_LABELS.get(e.action, e.action), "step": e.step,
             "step_name": names.get(e.step or "", e.step), "data": e.data, "hash": e.hash}
            for e in events
        ],
        "verification": {**verdict.as_dict(), "last_hash": case.last_hash},
        "process_sha256": definition.sha256,
    }


_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
)

dutch_date = timezones.dutch_date
# A time (ISO text in UTC or with offset, or a datetime) in Dutch time: "29 november 2026,
# 14:05", with seconds where the order of events matters.
local_time = timezones.local_text


_env.filters["local_time"] = local_time


def render_html(dossier: dict[str, Any]) -> str:
    return _env.get_template("dossier.html").render(d=dossier)


def product_files():
    """WeasyPrint's url_fetcher for the product's documents: data: URLs and the product's own
    files under engine/templates; every other URL (http:, https:, ftp:, file: elsewhere, a path
    that leaves the folder through .. or a link) is refused, so no text in a document can
    make the server fetch a URL or embed a local file. A refused URL is left out of the PDF
    (WeasyPrint logs a warning and goes on)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class ProductFiles(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.partition(":")[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)  # decoded in memory, no I/O
            if scheme == "file":
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if path.is_relative_to(_TEMPLATES.resolve()) and path.is_file():
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(path.as_uri(), body=path.read_bytes(),
                                              headers={"Content-Type": kind})
            raise ValueError(f"geweigerd: {url[:80]} is geen bestand van het product")

    return ProductFiles()


def html_to_pdf(html: str) -> bytes:
    """A tagged, accessible PDF (PDF/UA-1: structure tree, language, title) of an HTML
    document of this product, rendered with WeasyPrint through ProductFiles: relative URLs
    name files under engine/templates, data: URLs are allowed, nothing else is fetched."""
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    return HTML(string=html, base_url=_TEMPLATES.as_uri() + "/",
                url_fetcher=product_files()).write_pdf(pdf_variant="pdf/ua-1")


def render_pdf(dossier: dict[str, Any]) -> bytes:
    return html_to_pdf(render_html(dossier))


def export(who, case_id: Any, fmt: str, on_behalf_of: str | None = None) -> tuple[bytes, dict]:
    """The dossier as PDF or JSON bytes; the export is logged (NEN 7513)."""
    import json

    if fmt not in ("pdf", "json"):
        raise ValueError("formaat moet pdf of json zijn")

    def run(session: Session, actor=who):
        case = commands.load_case(session, case_id)
        if not isinstance(who, str) and not may_read_case(session, who, case):
            raise commands.Denied(N_("U heeft geen toegang tot deze casus."), case.id, "export")
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
        dossier = commands.run_command(who, run)
    if fmt == "json":
        return json.dumps(dossier, ensure_ascii=False, indent=2).encode(), dossier
    return render_pdf(dossier), dossier


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
