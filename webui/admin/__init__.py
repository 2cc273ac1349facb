"""The beheerder's settings of the organisation: its name, the aandachtsfunctionarissen, the
Veilig Thuis region and the professional group whose afwegingskader applies."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine import organisation
from engine.errors import Invalid

from ..web import principal

bp = Blueprint("admin", __name__)

TEXT_FIELDS = ("organisatie_naam", "veilig_thuis_telefoon", "veilig_thuis_regio_naam",
               "veilig_thuis_regio_adres", "veilig_thuis_regio_telefoon")
PERSON_FIELDS = ("naam", "functie", "telefoon", "email")
EMPTY_ROWS = 2  # without JavaScript: room for this many more people at a time


def _posted() -> dict:
    """The form as organisation.update takes it: the people from their numbered rows."""
    payload = {key: request.form.get(key, "") for key in TEXT_FIELDS}
    if "beroepsgroep" in request.form:
        payload["beroepsgroep"] = request.form["beroepsgroep"]
    rows = request.form.get("rijen", "")
    rows = min(int(rows), organisation.MAX_PEOPLE) if rows.isdigit() else 0
    payload["aandachtsfunctionarissen"] = [
        {k: request.form.get(f"af-{i}-{k}", "") for k in PERSON_FIELDS} for i in range(rows)
    ]
    return payload


def _rows(people: list) -> list:
    filled = [p for p in people if any((p.get(k) or "").strip() for k in PERSON_FIELDS)]
    count = min(max(len(filled) + EMPTY_ROWS, 3), organisation.MAX_PEOPLE)
    return (filled + [dict.fromkeys(PERSON_FIELDS, "")] * count)[:count]


def _render(values: dict, errors: dict, status: int = 200):
    return render_template(
        "admin/settings.html", values=values, errors=errors,
        people=_rows(values.get("aandachtsfunctionarissen") or []),
        beroepsgroepen=organisation.BEROEPSGROEPEN, placeholders=organisation.PLACEHOLDERS,
    ), status


@bp.route("/beheer/instellingen", methods=["GET", "POST"])
@login_required
def settings():
    if request.method == "POST":
        payload = _posted()
        try:
            organisation.update(principal(), payload)
        except Invalid as exc:
            return _render(payload, exc.errors if isinstance(exc.errors, dict) else {}, 422)
        flash(_("De instellingen zijn opgeslagen. Formulieren, hulpteksten en de meldcode van de "
                "organisatie gebruiken ze meteen."), "success")
        return redirect(url_for("admin.settings"))
    return _render(organisation.settings_page(principal()), {})
