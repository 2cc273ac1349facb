"""The Flask application: thin views over engine/."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

JSON_LIMIT = 1024 * 1024  # 1 MiB for JSON bodies
DEPLOY_LIMIT = 5 * 1024 * 1024  # 5 MiB for process deploys
IDLE_TIMEOUT = timedelta(minutes=30)

# No inline script anywhere: all JavaScript comes from our own static files. bpmn-js sets
# style attributes on the SVG it draws, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The web application with all its blueprints, configured from engine.config and the
    instance's keys (engine.settings); `config` overrides Flask settings. Raises what reading
    them raises (engine.config.ConfigError, engine.settings.KeyRefused), and ConfigError for a
    SESSION_MAX_HOURS outside the range of MELDCODE_SESSION_MAX_HOURS (session_hours_refused)."""
    # Flask and the engine's configuration are imported here, not with the package: every
    # `meldcode` command imports webui (webui.cli), and most never build the app.
    from flask import Flask
    from flask.json.provider import DefaultJSONProvider

    from engine import config as engine_config
    from engine import settings, timezones

    app = Flask(__name__, instance_path=str(settings.instance_dir()))
    cfg = engine_config.current()
    https = cfg.https
    app.config.update(
        SECRET_KEY=settings.secret_key(),
        MAX_CONTENT_LENGTH=DEPLOY_LIMIT,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_NAME="meldcode_sessie",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        # Signed with a timestamp and checked against this age on every request, and
        # refreshed on every request: an idle session expires after 30 minutes.
        PERMANENT_SESSION_LIFETIME=IDLE_TIMEOUT,
        SESSION_REFRESH_EACH_REQUEST=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=https,
        PREFERRED_URL_SCHEME="https" if https else "http",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the (idle-limited) session
        WTF_CSRF_SSL_STRICT=https,
        BABEL_DEFAULT_LOCALE="nl",
        BABEL_DEFAULT_TIMEZONE=timezones.DISPLAY_ZONE_NAME,
        LOGIN_RATE_LIMIT=cfg.login_rate_limit,
        # Counts in the application's database, shared by all server processes.
        RATELIMIT_STORAGE_URI=cfg.ratelimit_storage,
        HTTPS=https,
    )
    if config:
        app.config.update(config)
    # a session lifetime given here (auth.max_session_seconds) is held to the environment's
    # rule: refused at start with the range, where it was clamped at every request
    hours = app.config.get("SESSION_MAX_HOURS")
    if hours is not None and (problem := engine_config.session_hours_refused("SESSION_MAX_HOURS", hours)):
        raise engine_config.ConfigError(problem)
    assert isinstance(app.json, DefaultJSONProvider)  # Flask's own, which has ensure_ascii
    app.json.ensure_ascii = False

    from . import observability, ratelimit, web  # noqa: F401 - ratelimit registers meldcode://
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .cases import bp as cases_bp
    from .extensions import babel, csrf, limiter, login_manager, select_locale
    from .management import bp as management_bp
    from .meldcode import bp as meldcode_bp
    from .notifications import bp as notifications_bp
    from .practice import bp as practice_bp
    from .processes import bp as processes_bp
    from .tasks import bp as tasks_bp

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: CSRF does not apply
    app.register_blueprint(auth_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(processes_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(meldcode_bp)
    app.register_blueprint(management_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(practice_bp)
    web.init_app(app)
    observability.init_app(app)  # JSON logs, request ids, metrics, /healthz, ProxyFix
    return app
