"""Flask extensions, created here and bound to the app in create_app."""

from __future__ import annotations

from flask import request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

LANGUAGES = ("nl", "en")


def select_locale() -> str:
    """Dutch unless the person chose another language in this session; the JSON API (no
    session) is Dutch unless the client asks for English (Accept-Language: en)."""
    if request and request.path.startswith("/api/"):
        try:
            return request.accept_languages.best_match(LANGUAGES) or "nl"
        except ValueError:
            return "nl"
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "nl"


def client_address() -> str:
    return get_remote_address() or request.remote_addr or "onbekend"


csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True)
