"""Sign in and out, and the choice of language."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from engine import pages

from ..extensions import LANGUAGES, limiter
from ..ratelimit import login_name_key, login_name_limit
from ..web import WebUser, safe_next, source_address

bp = Blueprint("auth", __name__)

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
        name = (request.form.get("naam") or "").strip()[:MAX_NAME]
        password = (request.form.get("wachtwoord") or "")[:MAX_PASSWORD]
        if not name or not password:
            error = _("Vul uw gebruikersnaam en wachtwoord in.")
        else:
            person = pages.sign_in(name, password, source_address())
            if person is not None:
                lang = session.get("lang")
                session.clear()  # a fresh session for the signed-in person
                if lang:
                    session["lang"] = lang
                session.permanent = True  # expires after IDLE_TIMEOUT without requests
                login_user(WebUser(person))
                return redirect(next_url)
            error = _("Gebruikersnaam of wachtwoord klopt niet.")
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, name=name, next=next_url), status


@bp.post("/afmelden")
@login_required
def logout():
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("U bent afgemeld."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/taal")
def language():
    lang = request.form.get("taal")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")))
