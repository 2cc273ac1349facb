"""The management overview for toezicht (issue 14 point 6): a page for the leidinggevende and
the auditor with the figures of a period (engine.management: counts only, never client data),
a heatmap of the routes on the diagram, and the same figures as CSV and PDF.

The CSV has one row per figure: `onderdeel;sleutel;maat;waarde;omschrijving` (semicolon, as
Dutch spreadsheets expect; UTF-8 with a byte-order mark so Excel reads ë; decimals with a
point). The first four columns are stable codes and numbers, the last is the figure's
description in the reader's language. A text cell that a spreadsheet would take for a formula
(a step's name in the diagram starting with = + - @) gets a leading apostrophe (cell()).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine import management, oversight
from engine.errors import Invalid

from .. import documents
from ..web import STATUS, UITKOMST, label, principal

bp = Blueprint("management", __name__)

FEEDBACK = {
    "received": _l("Terugkoppeling ontvangen"),
    "not_received": _l("Geen terugkoppeling gekomen"),
    "open": _l("Nog open, binnen de termijn"),
    "overdue": _l("Nog open, termijn verstreken"),
}
OWN_STEPS = {management.CONSULT: _l("Raadpleging van een collega")}


def step_name(entry: dict[str, Any]) -> str:
    """A step's name as the diagram has it; the product's own steps in the reader's words."""
    own = OWN_STEPS.get(entry["step"])
    return str(own) if own is not None else entry["name"]


def heat(count: int, highest: int) -> int:
    """The colour class (0 to 4) of a count on the heatmap: 0 for none, else by its share
    of the highest count in fifths, so every element with a count gets at least 1."""
    if count <= 0 or highest <= 0:
        return 0
    return min(4, 1 + (4 * count - 1) // highest)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula


def cell(value: Any) -> Any:
    """A value as the CSV writes it: None as empty, a text that a spreadsheet would read as a
    formula (OWASP "CSV injection": starting with = + - @, a tab or a carriage return) with an
    apostrophe before it, so it stays text; numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def figures(data: dict[str, Any]) -> list[tuple[str, str, str, Any, str]]:
    """Every figure of management.overview's data as (onderdeel, sleutel, maat, waarde,
    omschrijving): the rows of the CSV, in the order of the page."""
    c = data["cases"]
    period = data["period"]
    rows: list[tuple[str, str, str, Any, str]] = [
        ("periode", "van", "datum", period["first"].isoformat(), _("Eerste dag van de periode")),
        ("periode", "tot", "datum", period["last"].isoformat(),
         _("Laatste dag van de periode (inbegrepen)")),
        ("casussen_geopend", "totaal", "aantal", c["opened"], _("Casussen geopend in de periode")),
    ]
    for status in ("open", "closed"):
        rows.append(("casussen_geopend", status, "aantal", c["opened_by_status"].get(status, 0),
                     _("Geopend in de periode, nu: %(status)s", status=label(STATUS, status))))
    for code in oversight.UITKOMSTEN:
        rows.append(("casussen_geopend", code, "aantal", c["opened_by_uitkomst"][code],
                     _("Geopend in de periode, uitkomst: %(uitkomst)s",
                       uitkomst=label(UITKOMST, code))))
    rows.append(("casussen_afgesloten", "totaal", "aantal", c["closed"],
                 _("Casussen afgesloten in de periode")))
    for code in oversight.UITKOMSTEN:
        rows.append(("casussen_afgesloten", code, "aantal", c["closed_by_uitkomst"][code],
                     _("Afgesloten in de periode, uitkomst: %(uitkomst)s",
                       uitkomst=label(UITKOMST, code))))
    rows.append(("casussen_open", "nu", "aantal", c["open_now"], _("Casussen nu open")))
    for s in data["steps"]:
        name = step_name(s)
        rows += [("stap_duur", s["step"], "afgerond", s["completed"],
                  _("%(step)s: afgerond in de periode", step=name)),
                 ("stap_duur", s["step"], "mediaan_uren", s["median_hours"],
                  _("%(step)s: mediaan van de doorlooptijd in uren", step=name)),
                 ("stap_duur", s["step"], "p90_uren", s["p90_hours"],
                  _("%(step)s: 90e percentiel van de doorlooptijd in uren", step=name))]
    rows.append(("te_laat", "totaal", "aantal", data["overdue_total"],
                 _("Taken nu over de termijn")))
    for o in data["overdue"]:
        rows.append(("te_laat", o["step"], "aantal", o["count"],
                     _("%(step)s: nu over de termijn", step=step_name(o))))
    m = data["meldingen"]
    rows += [("meldingen", "gedaan", "aantal", m["made"],
              _("Meldingen bij Veilig Thuis gedaan in de periode")),
             ("meldingen", "casussen", "aantal", m["cases"], _("Casussen met een melding"))]
    for state in management.FEEDBACK_STATES:
        rows.append(("terugkoppeling", state, "aantal", m["feedback"][state],
                     _("Terugkoppeling van Veilig Thuis: %(state)s",
                       state=str(FEEDBACK[state]).lower())))
    for r in data["routes"]:
        name = step_name(r)
        rows += [("route", r["step"], "bereikt", r["reached"],
                  _("%(step)s: casussen die deze stap bereikten", step=name)),
                 ("route", r["step"], "afgerond", r["completed"],
                  _("%(step)s: casussen die deze stap afrondden", step=name))]
    return rows


def _period() -> management.Period:
    """The period asked for, once the reader may see the overview (a refused reader gets 403
    whatever the dates say); Invalid (422) for dates that do not hold."""
    management.check_reader(principal())
    return management.parse_period(request.args)


def _name(period: management.Period, ext: str) -> str:
    return f"toezicht-{period.first.isoformat()}-{period.last.isoformat()}.{ext}"


@bp.get("/toezicht")
@login_required
def page():
    errors: dict[str, Any] = {}
    values = {name: str(request.args.get(name) or "").strip() for name in ("van", "tot")}
    try:
        period = _period()
    except Invalid as exc:
        return render_template("management/overview.html", data=None, errors=exc.errors,
                               values=values), 422
    data = management.overview(principal(), period)
    values = {"van": period.first.isoformat(), "tot": period.last.isoformat()}
    heatmap = {"counts": {r["step"]: r["reached"] for r in data["routes"]},
               "heat": {r["step"]: heat(r["reached"], data["route_max"]) for r in data["routes"]}}
    return render_template("management/overview.html", data=data, errors=errors, values=values,
                           heatmap=heatmap, FEEDBACK=FEEDBACK, step_name=step_name,
                           heat=heat)


@bp.get("/toezicht.csv")
@login_required
def export_csv():
    period = _period()
    data = management.overview(principal(), period)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(("onderdeel", "sleutel", "maat", "waarde", "omschrijving"))
    for row in figures(data):
        writer.writerow([cell(v) for v in row])
    return Response(("\ufeff" + out.getvalue()).encode(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_name(period, "csv")}"'})


@bp.get("/toezicht.pdf")
@login_required
def export_pdf():
    period = _period()
    data = management.overview(principal(), period)
    html = render_template("management/document.html", data=data, FEEDBACK=FEEDBACK,
                           step_name=step_name, lang=str(get_locale() or "nl"))
    return Response(documents.html_to_pdf(html), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{_name(period, "pdf")}"'})
