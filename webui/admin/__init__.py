"""The beheerder's area: the settings of the organisation (its name, the
aandachtsfunctionarissen, the Veilig Thuis region and the professional group whose
afwegingskader applies) and the users with their roles, leidinggevende, passwords and API
tokens; and the auditor's page with the admin log (CONTRACT section 5)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine import accounts, due, forms, organisation, timezones, users
from engine.errors import Invalid
from engine.form_text import trimmed
from engine.passwords import generate_password
from engine.roles import LEIDINGGEVENDE, ROLES

from ..web import ROLES as ROLE_LABELS
from ..web import label, principal

bp = Blueprint("admin", __name__)

TEXT_FIELDS = ("organisatie_naam", "veilig_thuis_telefoon", "veilig_thuis_regio_naam",
               "veilig_thuis_regio_adres", "veilig_thuis_regio_telefoon",
               "veilig_thuis_regio_postcode", "veilig_thuis_regio_plaats",
               "veilig_thuis_regio_website")
PERSON_FIELDS = ("naam", "functie", "telefoon", "email")
EMPTY_ROWS = 2  # without JavaScript: room for this many more people at a time
NORM = due.NORM_KEY  # working days per step of the route (engine/due.py)
# The settings' names as the settings page labels its fields and errors and the admin log
# names a changed setting: one list.
SETTING_LABELS = {
    "organisatie_naam": _l("Naam van de organisatie"),
    "beroepsgroep": _l("Beroepsgroep en afwegingskader"),
    "aandachtsfunctionarissen": _l("Aandachtsfunctionarissen"),
    "veilig_thuis_telefoon": _l("Landelijk telefoonnummer"),
    "veilig_thuis_regio_naam": _l("Veilig Thuis in de regio"),
    "veilig_thuis_regio_telefoon": _l("Telefoonnummer van de regio voor professionals"),
    "veilig_thuis_regio_adres": _l("Adres van Veilig Thuis in de regio"),
    "veilig_thuis_regio_postcode": _l("Postcode van Veilig Thuis in de regio"),
    "veilig_thuis_regio_plaats": _l("Plaats van Veilig Thuis in de regio"),
    "veilig_thuis_regio_website": _l("Website van Veilig Thuis in de regio"),
    NORM: _l("Werkdagen per stap"),
}


def _posted() -> dict:
    """The form as organisation.update takes it: the people from their numbered rows."""
    payload: dict[str, str | int | list[dict[str, str]]] = {
        key: request.form.get(key, "") for key in TEXT_FIELDS}
    if "beroepsgroep" in request.form:
        payload["beroepsgroep"] = request.form["beroepsgroep"]
    if NORM in request.form:  # a whole number of working days; anything else the engine refuses
        days = request.form[NORM].strip()
        payload[NORM] = int(days) if days.isascii() and days.isdigit() and len(days) < 5 else days
    asked = request.form.get("rijen", "")
    rows = min(int(asked), organisation.MAX_PEOPLE) if asked.isdigit() else 0
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
        max_norm=due.MAX_NORM, labels=SETTING_LABELS,
    ), status


@bp.route("/beheer/instellingen", methods=["GET", "POST"])
@login_required
def settings():
    if request.method == "POST":
        payload = _posted()
        try:
            organisation.update(principal(), payload, via=_via())
        except Invalid as exc:
            return _render(payload, exc.errors if isinstance(exc.errors, dict) else {}, 422)
        flash(_("De instellingen zijn opgeslagen. Formulieren, hulpteksten en de meldcode van de "
                "organisatie gebruiken ze meteen."), "success")
        return redirect(url_for("admin.settings"))
    return _render(organisation.settings_page(principal(), via=_via()), {})


# --- users and tokens (beheerder only) -------------------------------------------------------

ADMIN_LOG_LIMIT = 1000
# The admin log's action codes as an auditor reads them.
ADMIN_ACTIONS = {
    "user_added": _l("Gebruiker toegevoegd"),
    "user_password": _l("Wachtwoord gewijzigd"),
    "user_deactivated": _l("Gebruiker uitgeschakeld"),
    "user_roles": _l("Rollen gewijzigd"),
    "user_manager": _l("Leidinggevende gewijzigd"),
    "user_email": _l("E-mailadres gewijzigd"),
    "user_beroepsgroep": _l("Beroepsgroep gewijzigd"),
    "token_created": _l("API-token gemaakt"),
    "token_revoked": _l("API-token(s) ingetrokken"),
    "settings_changed": _l("Instellingen gewijzigd"),
    "process_deployed": _l("Procesversie gepubliceerd"),
    "process_activated": _l("Procesversie actief gemaakt"),
    "cases_migrated": _l("Casussen verplaatst naar een andere versie"),
    "refused": _l("Beheerpagina geweigerd"),
    # lines a migration or a restore writes: older data taken on trust, a copy put back
    "process_recorded": _l("Bestaande procesversie vastgelegd"),
    "settings_recorded": _l("Bestaande instellingen vastgelegd"),
    "database_restored": _l("Reservekopie teruggezet"),
    "notifications_sealed": _l("Berichten voortaan verzegeld"),
}


# What an admin-log line records (its detail's keys, engine/audit.log_admin), as an auditor
# reads it; the JSON API (GET /api/v1/admin-log) gives the keys and values as stored.
ADMIN_DETAILS = {
    "user": _l("Gebruiker"),
    "roles": _l("Rollen"),
    "before": _l("Rollen eerder"),
    "manager": _l("Leidinggevende"),
    "token_id": _l("Tokennummer"),
    "expires": _l("Verloopt"),
    "revoked": _l("Aantal ingetrokken"),
    "tokens_revoked": _l("Tokens ingetrokken"),
    "settings": _l("Instellingen"),
    "version": _l("Versie"),
    "sha256": _l("SHA-256"),
    "files": _l("Bestanden"),
    "from": _l("Van versie"),
    "to": _l("Naar versie"),
    "cases": _l("Casussen"),
    "method": _l("Methode"),
    "path": _l("Pad"),
    "needs": _l("Vereiste rol"),
    "beroepsgroep": _l("Beroepsgroep"),
    # notifications from before their seal (notifications_sealed, engine/notification_seals.py)
    "last_unsealed_notification": _l("Laatste bericht zonder zegel"),
    "unsealed_notifications": _l("Berichten zonder zegel"),
    # a backup put back (database_restored, engine/restore_steps.py record)
    "file": _l("Bestand"),
    "tree_size_before": _l("Regels in het logboek ervoor"),
    "recorded_head_before": _l("Kop van de sequencer ervoor"),
    "recorded_head_problem": _l("Kop van de sequencer onbruikbaar"),
    "tree_size_after": _l("Regels in het logboek erna"),
    "root_after": _l("Wortel van het logboek erna"),
    "largest_head_known": _l("Grootste bekende omvang van het logboek ervoor"),
    "entries_dropped": _l("Regels van het logboek weggevallen"),
    "checkpoints_set_aside": _l("Controlepunten opzijgezet"),
    "checkpoints_folder": _l("Map van de opzijgezette controlepunten"),
    "interrupted_attempts": _l("Afgebroken eerdere pogingen"),
    "earlier_restores": _l("Eerdere terugzettingen van de vervangen database"),
    "explanation": _l("Toelichting"),
}
_ROLE_KEYS = ("roles", "before", "needs")  # their values are role codes
_RESTORE_KEYS = ("recorded_head_before", "checkpoints_set_aside", "interrupted_attempts", "earlier_restores",
                 "explanation")


def _head(head: object) -> object:
    """A recorded log head ({"tree_size", "root", "at"}) in words; anything else as it is."""
    if not isinstance(head, dict) or not {"tree_size", "root"} <= set(head):
        return head
    return _("%(count)s regels, wortel %(root)s, vastgelegd %(at)s", count=head["tree_size"],
             root=head["root"], at=head.get("at") or "—")


def _restore_value(key: str, value: object) -> object:
    """A value of a restore's line in words: the head, each checkpoint set aside, each
    interrupted attempt, the explanation in the reader's language (its Dutch text is the
    catalogue's msgid). A value of another shape (an older line, a changed row) as it is."""
    if key == "recorded_head_before":
        return _head(value)
    if key == "explanation" and isinstance(value, str):
        return _(value)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return value
    if key == "checkpoints_set_aside":
        return [_("%(file)s (%(count)s regels)", file=item.get("file", "?"),
                  count=item.get("tree_size", "?")) for item in value]
    if key == "earlier_restores":
        return [_("%(file)s: %(count)s regels weggevallen, kop ervoor %(head)s, map %(folder)s",
                  file=item.get("file", "?"), count=item.get("entries_dropped", "?"),
                  head=_head(item.get("recorded_head_before")) or "—",
                  folder=item.get("checkpoints_folder") or "—") for item in value]
    shown = []  # interrupted_attempts
    for item in value:
        text = (_("%(file)s, begonnen %(at)s door %(by)s", file=item["file"], at=item.get("started_at"),
                  by=item.get("by")) if "file" in item else str(item.get("problem", "?")))
        head = _head(item.get("recorded_head_at_retry")) or "—"
        shown.append(text + "; " + _("bij de volgende poging: logboek %(count)s regels, kop %(head)s",
                                     count=item.get("tree_size_at_retry", "?"), head=head))
    return shown


def _setting_value(key: str, value: object) -> str:
    """A changed setting's value as the settings page shows it: the beroepsgroep by its name,
    each aandachtsfunctionaris as name (function, phone, e-mail), an empty list as a dash."""
    if key == "beroepsgroep" and value in organisation.BEROEPSGROEPEN:
        return _(organisation.BEROEPSGROEPEN[str(value)])
    if isinstance(value, list):
        shown = []
        for item in value:
            if isinstance(item, dict):
                name = str(item.get("naam") or "—")
                rest = [str(item[k]) for k in PERSON_FIELDS[1:] if item.get(k)]
                shown.append(f"{name} ({', '.join(rest)})" if rest else name)
            else:
                shown.append(str(item))
        return "; ".join(shown) or "—"
    return str(value)


def admin_detail(detail: object) -> list[tuple[str, str]]:
    """An admin-log line's detail as (label, value) pairs in the reader's language: role codes
    as the roles' names, lists joined, nothing recorded as a dash; a key this table does not
    know keeps its code."""
    if not isinstance(detail, dict):
        return [("", str(detail))] if detail not in (None, "") else []
    out = []
    for key in sorted(detail, key=lambda k: (list(ADMIN_DETAILS).index(k)
                                             if k in ADMIN_DETAILS else len(ADMIN_DETAILS), k)):
        value = detail[key]
        if key in _ROLE_KEYS:
            codes = value if isinstance(value, list) else [value]
            value = [label(ROLE_LABELS, code) for code in codes]
        if key == "beroepsgroep":  # a user's group by its name ("organisatie": the default)
            value = _group_name(value)
        if key in _RESTORE_KEYS:
            value = _restore_value(key, value)
        if isinstance(value, dict):  # the settings changed: named as the settings page does
            value = "; ".join(f"{label(SETTING_LABELS, k)}: {_setting_value(k, v)}"
                              for k, v in sorted(value.items()) if v not in (None, ""))
        elif isinstance(value, list):
            joiner = "; " if key in ("interrupted_attempts", "earlier_restores") else ", "
            value = joiner.join(str(v) for v in value)
        shown = "—" if value is None or value == "" else str(value)
        out.append((str(ADMIN_DETAILS.get(key, key)), shown))
    return out


def _group_name(key: object) -> str:
    """A user's beroepsgroep (a key of organisation.BEROEPSGROEPEN, or None / "organisatie":
    the organisation's) by its name in the reader's language."""
    if key in organisation.BEROEPSGROEPEN:
        return _(organisation.BEROEPSGROEPEN[str(key)])
    return _("Zoals de organisatie") if key in (None, "", users.ORGANISATION_GROUP) else str(key)


def _via() -> accounts.Via:
    """This request, as an engine command records it with a refusal (engine/accounts.py)."""
    return accounts.Via(request.method, request.path)


def _users_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    rows = accounts.list_users(principal(), via=_via())
    return render_template(
        "admin/users.html", users=rows, values=values or {"rollen": []}, errors=errors or {},
        roles=ROLES, managers=[u for u in rows if u["active"] and LEIDINGGEVENDE in u["roles"]],
        groups=_groups(),
    ), status


def _groups() -> list[tuple[str, str]]:
    """The choices of a user's beroepsgroep on the beheerder's pages: ("", the organisation's)
    first, then each group of organisation.BEROEPSGROEPEN by its name."""
    return [("", _group_name(None)),
            *((key, _(text)) for key, text in organisation.BEROEPSGROEPEN.items())]


@bp.get("/beheer/gebruikers")
@login_required
def users_list():
    return _users_page()


@bp.post("/beheer/gebruikers")
@login_required
def user_add():
    # as typed: what is too long is refused by the engine at its field, never cut here
    name = trimmed(request.form.get("naam") or "")
    display_name = trimmed(request.form.get("weergavenaam") or "")
    roles = request.form.getlist("rollen")
    manager = request.form.get("leidinggevende") or ""
    email = trimmed(request.form.get("email") or "")
    group = request.form.get("beroepsgroep") or ""
    values = {"naam": name, "weergavenaam": display_name, "rollen": roles, "leidinggevende": manager,
              "email": email, "beroepsgroep": group}
    own = request.form.get("wachtwoord") or ""
    password = own or generate_password()
    try:
        accounts.add_user(principal(), name, roles, password, manager or None, display_name,
                          email=email or None, via=_via(), beroepsgroep=group or None)
    except Invalid as exc:
        # A text with a refused character (a NUL, say) is not put back into the form.
        shown = {k: ("" if isinstance(v, str) and forms.refused_character(v) else v)
                 for k, v in values.items()}
        return _users_page(shown, _field_errors(exc), 422)
    if own:
        flash(_("Gebruiker %(name)s is toegevoegd.", name=name), "success")
        return redirect(url_for("admin.user_detail", name=name))
    return _detail_page(name, new_password=password)


def _field_errors(exc: Invalid) -> dict:
    errors = dict(exc.errors) if isinstance(exc.errors, dict) else {"algemeen": exc.message}
    if "days" in errors:  # the token form's field
        errors["dagen"] = errors.pop("days")
    return errors


def _detail_page(name: str, errors: dict | None = None, status: int = 200,
                 new_password: str | None = None, new_token: str | None = None):
    account = accounts.user_account(principal(), name, stamp=timezones.to_utc, via=_via())
    person = account["user"]
    return render_template(
        "admin/user.html", person=person, tokens=account["tokens"], errors=errors or {},
        roles=ROLES,
        managers=[u for u in account["users"] if u["active"] and LEIDINGGEVENDE in u["roles"]
                  and u["name"] != person["name"]],
        new_password=new_password, new_token=new_token,
        is_self=person["name"] == principal().name, groups=_groups(),
    ), status


@bp.get("/beheer/gebruikers/<name>")
@login_required
def user_detail(name):
    return _detail_page(name)


def _change(name: str, change, done: str):
    """Run one engine command (it owns its transaction and checks who may); the page again
    with the errors at their field (422), or back to the user's page with a message."""
    try:
        change()
    except Invalid as exc:
        return _detail_page(name, _field_errors(exc), 422)
    flash(done, "success")
    return redirect(url_for("admin.user_detail", name=name))


@bp.post("/beheer/gebruikers/<name>/rollen")
@login_required
def user_roles(name):
    roles = request.form.getlist("rollen")
    return _change(name, lambda: accounts.change_roles(principal(), name, roles, via=_via()),
                   _("De rollen van %(name)s zijn gewijzigd. Lopende sessies van %(name)s zijn "
                     "beëindigd.", name=name))


@bp.post("/beheer/gebruikers/<name>/leidinggevende")
@login_required
def user_manager(name):
    manager = request.form.get("leidinggevende") or None
    return _change(name, lambda: accounts.change_manager(principal(), name, manager, via=_via()),
                   _("De leidinggevende van %(name)s is gewijzigd.", name=name))


@bp.post("/beheer/gebruikers/<name>/email")
@login_required
def user_email(name):
    email = trimmed(request.form.get("email") or "")  # too long: refused, never cut
    return _change(name, lambda: accounts.change_email(principal(), name, email, via=_via()),
                   _("Het e-mailadres van %(name)s is opgeslagen.", name=name))


@bp.post("/beheer/gebruikers/<name>/beroepsgroep")
@login_required
def user_beroepsgroep(name):
    group = request.form.get("beroepsgroep") or ""
    return _change(name, lambda: accounts.change_beroepsgroep(principal(), name, group or None,
                                                              via=_via()),
                   _("De beroepsgroep van %(name)s is opgeslagen. Nieuwe casussen van %(name)s "
                     "volgen dat afwegingskader; lopende casussen houden het hunne.", name=name))


@bp.post("/beheer/gebruikers/<name>/uitschakelen")
@login_required
def user_deactivate(name):
    return _change(name, lambda: accounts.deactivate_user(principal(), name, via=_via()),
                   _("%(name)s is uitgeschakeld: aanmelden kan niet meer en alle tokens zijn "
                     "ingetrokken.", name=name))


@bp.post("/beheer/gebruikers/<name>/wachtwoord")
@login_required
def user_password(name):
    own = request.form.get("wachtwoord") or ""
    password = own or generate_password()
    try:
        accounts.change_password(principal(), name, password, via=_via())
    except Invalid as exc:
        return _detail_page(name, _field_errors(exc), 422)
    if own:
        flash(_("Het wachtwoord van %(name)s is gewijzigd. Lopende sessies van %(name)s zijn "
                "beëindigd.", name=name), "success")
        return redirect(url_for("admin.user_detail", name=name))
    # A generated password is shown once, on this response only (never stored or logged).
    return _detail_page(name, new_password=password)


@bp.post("/beheer/gebruikers/<name>/tokens")
@login_required
def token_create(name):
    try:
        token = accounts.create_token(principal(), name, request.form.get("dagen"), via=_via())
    except Invalid as exc:
        return _detail_page(name, _field_errors(exc), 422)
    # Shown once, like a generated password.
    return _detail_page(name, new_token=token)


@bp.post("/beheer/gebruikers/<name>/tokens/intrekken")
@login_required
def token_revoke(name):
    token_id = request.form.get("token") or None
    return _change(name, lambda: accounts.revoke_tokens(principal(), name, token_id, via=_via()),
                   _("Token ingetrokken.") if token_id is not None
                   else _("Alle tokens van %(name)s zijn ingetrokken.", name=name))


# --- the admin log (auditors) --------------------------------------------------------------


@bp.get("/beheerlog")
@login_required
def admin_log():
    # ?pagina=N: the N-th page of ADMIN_LOG_LIMIT lines back from the newest, so every line
    # stays within reach however many came after it (issue 11 point 4); junk is page 1.
    try:
        page = accounts.admin_log_page_number(request.args.get("pagina"))
    except Invalid:
        page = 1
    rows = accounts.read_admin_log(principal(), ADMIN_LOG_LIMIT, stamp=timezones.to_utc,
                                   via=_via(), page=page)
    return render_template("admin/admin_log.html", rows=list(reversed(rows)),
                           limit=ADMIN_LOG_LIMIT, ADMIN_ACTIONS=ADMIN_ACTIONS,
                           admin_detail=admin_detail, page=page,
                           has_older=len(rows) == ADMIN_LOG_LIMIT)
