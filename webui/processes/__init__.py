"""The procesbeheerder's pages: the process versions (which one new cases get, open cases per
version, the difference between two), setting an older version active again, and the modeler
with its check and publish endpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine import migration, process_admin
from engine.errors import DomainError, Forbidden, Invalid

from ..texts import translate, translate_all
from ..web import principal

bp = Blueprint("processes", __name__)

# --- the difference between two versions in words (engine/versions.diff gives codes) ---------

CHANGE_KINDS = {"toegevoegd": _l("toegevoegd"), "verwijderd": _l("verwijderd"),
                "gewijzigd": _l("gewijzigd")}
# What a change is about (versions.diff's attribute codes), as a process owner names it.
CHANGE_ATTRIBUTES = {
    "naam": _l("naam"), "soort": _l("soort"), "toelichting": _l("toelichting"),
    "van": _l("van"), "naar": _l("naar"), "voorwaarde": _l("voorwaarde"),
    "label": _l("label"), "type": _l("type"), "regels": _l("regels"),
    "keuzes": _l("keuzes"), "help": _l("hulptekst"),
    "shown_when": _l("alleen op het formulier als"),
}


def change_text(change: dict[str, Any]) -> str:
    """One change of versions.diff in the reader's language: "naam: 'a' → 'b'; ..." for a
    changed item, "naam: 'a', ..." for one added or removed, the decision table's sentence."""
    if change["soort"] == "beslistabel":
        return _("de beslistabel (DMN) is gewijzigd")
    parts = []
    for detail in change.get("details") or []:
        name = str(CHANGE_ATTRIBUTES.get(detail["attribute"], detail["attribute"]))
        before, after = detail["before"], detail["after"]
        if before is None or after is None:
            if before or after:
                parts.append(f"{name}: '{after if before is None else before}'")
        else:
            parts.append(f"{name}: '{before}' → '{after}'")
    return ("; " if change["wijziging"] == "gewijzigd" else ", ").join(parts)


def change_kind(change: dict[str, Any]) -> str:
    """Added, removed or changed, in the reader's language."""
    return str(CHANGE_KINDS.get(change["wijziging"], change["wijziging"]))


bp.add_app_template_filter(change_text, "change_text")
bp.add_app_template_filter(change_kind, "change_kind")


def _worded(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The modeler's groups with each change's words for its script (`wijziging_tekst`,
    `omschrijving`) beside the codes."""
    return [{**g, "wijzigingen": [{**c, "wijziging_tekst": change_kind(c),
                                   "omschrijving": change_text(c)} for c in g["wijzigingen"]]}
            for g in groups]


@bp.get("/processen")
@login_required
def versions():
    page = process_admin.versions_page(principal(), request.args.get("van"), request.args.get("naar"))
    # Stuck cases per version: ids, counts and diagram elements only, never case content.
    stuck = migration.stuck_per_version(principal())
    return render_template("processes/versions.html", page=page, stuck=stuck,
                           old=request.args.get("van", ""), new=request.args.get("naar", ""))


@bp.route("/processen/<int:version>/verplaatsen", methods=["GET", "POST"])
@login_required
def migrate(version: int):
    """Move the open cases of a version to another one: choose, see the proof, confirm."""
    target = request.values.get("naar", "")
    if request.method == "POST":
        try:
            result = migration.move_cases(principal(), version, target)
        except migration.MoveRefused as exc:
            preview: dict[str, object] | None = {
                "from": version, "to": int(target), "problems": exc.lines, "ready": False,
                "cases": [], "stuck": []}
            return render_template("processes/migrate.html", version=version, preview=preview,
                                   choices=_targets(version), refused=exc.message), 409
        flash(_("%(count)s open casus(sen) verplaatst van versie %(old)s naar versie %(new)s.",
                count=len(result["moved"]), old=result["from"], new=result["to"]), "success")
        return redirect(url_for("processes.versions"))
    # Nothing chosen yet: only the choice of version is shown.
    preview = migration.move_preview(principal(), version, target) if target else None
    return render_template("processes/migrate.html", version=version, preview=preview,
                           choices=_targets(version), refused=None)


def _targets(version: int) -> list[dict]:
    """The versions the cases of `version` may move to (the procesbeheerder only)."""
    page = process_admin.versions_page(principal())
    if not page["may_change"]:
        raise Forbidden(_("Alleen een procesbeheerder mag casussen naar een andere versie "
                          "verplaatsen."))
    return [v for v in page["versions"] if v["version"] != version]


@bp.route("/processen/<int:version>/actief", methods=["GET", "POST"])
@login_required
def activate(version: int):
    if request.method == "GET":
        return render_template("processes/activate.html",
                               summary=process_admin.version_summary(principal(), version))
    row = process_admin.activate(principal(), version)
    if not row["activated"]:  # nothing changed, nothing logged (versions.activate)
        flash(_("Versie %(version)s is al de actieve versie.", version=row["version"]), "info")
        return redirect(url_for("processes.versions"))
    flash(_("Versie %(version)s is nu actief: nieuwe casussen starten op deze versie. Lopende "
            "casussen blijven op hun eigen versie.", version=row["version"]), "success")
    return redirect(url_for("processes.versions"))


@bp.get("/processen/<int:version>/bestanden/<name>")
@login_required
def download(version: int, name: str):
    file_name, content = process_admin.version_file(principal(), version, name)
    stem, dot, ext = file_name.rpartition(".")
    return Response(content, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{stem}-v{version}{dot}{ext}"'})


# --- the modeler ---------------------------------------------------------------------------------


def _modeler_texts() -> dict[str, str]:
    """The modeler script's texts, in the person's language (%(name)s is filled in there)."""
    return {
        "import_failed": _("%(name)s kon niet worden geopend: %(reason)s"),
        "warnings_count": _("Meldingen bij het openen: %(count)s"),
        "problems_count": _("Problemen: %(count)s"),
        "show_element": _("Toon %(name)s in het diagram"),
        "show_route": _("Toon de route in het diagram (stappen: %(count)s)"),
        "route_title": _("Route waarop het misgaat, met de gegeven antwoorden:"),
        "flow_label": _("de pijl van %(source)s naar %(target)s"),
        "named_flow_label": _("de pijl %(name)s van %(source)s naar %(target)s"),
        "yes": _("ja"),
        "no": _("nee"),
        "empty": _("leeg"),
        "checking": _("Bezig met controleren…"),
        "check_ok": _("Geen problemen gevonden: dit diagram kan worden gepubliceerd."),
        "check_failed": _("Het diagram kan zo niet worden gepubliceerd (problemen: %(count)s). Ze "
                          "staan hieronder en zijn rood gemarkeerd in het diagram."),
        "publish_refused_check": _("Niet gepubliceerd: los eerst de problemen op (%(count)s)."),
        "publish_refused": _("Niet gepubliceerd: de controle vond problemen (%(count)s). Er is niets "
                             "gewijzigd."),
        "same_as_version": _("Dit diagram is precies gelijk aan versie %(version)s. Publiceren maakt "
                             "die versie (weer) actief."),
        "layout_only": _("Er zijn geen inhoudelijke wijzigingen gevonden (alleen de opmaak of de "
                         "volgorde in het bestand verschilt). Toch publiceren?"),
        "changes_intro": _("Dit verandert er ten opzichte van de actieve versie %(version)s "
                           "(wijzigingen: %(count)s):"),
        "publishing": _("Bezig met publiceren…"),
        "published": _("Gepubliceerd als versie %(version)s. Nieuwe casussen starten op deze "
                       "versie; lopende casussen blijven op hun eigen versie."),
        "published_existing": _("Versie %(version)s had precies deze inhoud al; die versie is nu "
                                "actief."),
        "opened": _("%(name)s is geopend in de modeler. Er is nog niets gepubliceerd."),
        "server_error": _("Er ging iets mis bij het versturen. Probeer het opnieuw."),
        "session_expired": _("U bent afgemeld (te lang niet actief). Kies eerst ‘Downloaden’ om uw "
                             "wijzigingen te bewaren, meld u opnieuw aan en open het bestand weer."),
    }


@bp.get("/processen/modeler")
@login_required
def modeler():
    source = process_admin.modeler_source(principal())
    return render_template("processes/modeler.html", source=source, texts=_modeler_texts())


def _json_call(fn):
    if not request.is_json:
        return jsonify({"error": _("Stuur JSON.")}), 400
    try:
        return jsonify(translate_all(fn(principal(), request.get_json(silent=True)))), 200
    except Invalid as exc:
        return jsonify(translate_all({"error": exc.message, "errors": exc.errors})), exc.status
    except DomainError as exc:
        return jsonify({"error": translate(exc.message)}), exc.status


@bp.post("/processen/modeler/controleren")
@login_required
def check():
    def checked(who, payload):
        result = process_admin.check_edited(who, payload)
        return {**result, "groups": _worded(result["groups"])}

    return _json_call(checked)


@bp.post("/processen/modeler/publiceren")
@login_required
def publish():
    response, status = _json_call(process_admin.publish)
    if status == 200 and response.get_json().get("created"):
        status = 201
    return response, status
