"""Sign in and out, the checks that end a web session, and the choice of language.

A web session carries the user's session version (sessions.session_version) and the time of
sign-in. Every request compares both: signing out, a new password, deactivation or new roles
raise the version and so end every session of that user, on every device; and no session
lives longer than MELDCODE_SESSION_MAX_HOURS (default 12) after sign-in, however active.
The 30-minute idle limit is the cookie's own (PERMANENT_SESSION_LIFETIME).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from engine import clock, config, pages, sessions, users
from engine.form_text import trimmed

from ..extensions import LANGUAGES, limiter
from ..ratelimit import login_name_key, login_name_limit
from ..web import WebUser, safe_next, source_address

bp = Blueprint("auth", __name__)

SESSION_VERSION = "sv"  # the user's session version at sign-in
SIGNED_IN_AT = "signed_in_at"  # Unix time of sign-in


def max_session_seconds() -> float:
    """The absolute lifetime of a web session in seconds: the app's SESSION_MAX_HOURS, else
    the environment's MELDCODE_SESSION_MAX_HOURS (engine.config), else 12 hours. Both are
    held to one range when read (config.session_hours_refused; create_app refuses the app's
    at start), so the value is taken as it is, never clamped."""
    hours = current_app.config.get("SESSION_MAX_HOURS")
    if hours is None:
        hours = config.current().session_max_hours
    return float(hours) * 3600


def _fresh_session() -> None:
    """Empty the session but keep the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.before_app_request
def _end_stale_session():
    """Before anything reads current_user: a session whose version no longer matches the
    user's, or that is older than the absolute lifetime, or whose user is switched off, is
    emptied; the page then asks for sign-in (or the login_required view redirects there)."""
    user_id = session.get("_user_id")
    if user_id is None or request.endpoint == "static" or request.blueprint == "api":
        return  # static files and the token API never read the signed-in person
    try:
        current = sessions.session_version(int(user_id))
    except (TypeError, ValueError):
        current = None
    signed_in_at = session.get(SIGNED_IN_AT)
    expired = not isinstance(signed_in_at, int | float) or \
        clock.now().timestamp() - signed_in_at > max_session_seconds()
    if current is None or session.get(SESSION_VERSION) != current or expired:
        logout_user()
        _fresh_session()
        if expired and current is not None:
            flash(_("Uw sessie is verlopen. Meld u opnieuw aan."), "info")

MAX_NAME = 80
MAX_PASSWORD = 1024  # argon2 hashes any length; a cap keeps a huge body from costing CPU


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failed(response) -> bool:
    # Only attempts that did not sign in count towards the limit.
    return response.status_code != 302


@bp.route("/aanmelden", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(login_name_limit, key_func=login_name_key, methods=["POST"], deduct_when=_failed)
def login():
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    error = None
    name = ""
    if request.method == "POST":
        name = trimmed(request.form.get("naam") or "")[:MAX_NAME]
        password = (request.form.get("wachtwoord") or "")[:MAX_PASSWORD]
        refused = users.name_problem(name)
        if refused is not None:
            # A NUL or another refused character (forms.clean_text's rule) is no one's name:
            # said as such, at once, and the name is not shown again.
            return render_template("auth/login.html", error=refused, name="",
                                   next=next_url), 422
        if not name or not password:
            error = _("Vul uw gebruikersnaam en wachtwoord in.")
        else:
            # The password hash is checked outside any write transaction (issue 11).
            signed = sessions.sign_in(name, password, source_address())
            if signed is not None:
                _fresh_session()  # a fresh session for the signed-in person
                session.permanent = True  # expires after IDLE_TIMEOUT without requests
                session[SESSION_VERSION] = signed.session_version
                # the engine's clock: the system's, unless a test moves it (engine/clock.py)
                session[SIGNED_IN_AT] = int(clock.now().timestamp())
                login_user(WebUser(pages.Person(signed.principal, signed.display_name)))
                return redirect(next_url)
            error = _("Gebruikersnaam of wachtwoord klopt niet.")
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, name=name, next=next_url), status


@bp.post("/afmelden")
@login_required
def logout():
    # Raising the version ends this session and every other one of this user: a copy of the
    # cookie is worth nothing after "Afmelden".
    sessions.end_sessions(current_user.principal.id)
    logout_user()
    _fresh_session()
    flash(_("U bent afgemeld."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/taal")
def language():
    lang = request.form.get("taal")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")))
