"""The Flask application: thin views over engine/."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine import settings

JSON_LIMIT = 1024 * 1024  # 1 MiB for JSON bodies
DEPLOY_LIMIT = 5 * 1024 * 1024  # 5 MiB for process deploys


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(settings.instance_dir()))
    app.config.update(
        SECRET_KEY=settings.secret_key(),
        MAX_CONTENT_LENGTH=DEPLOY_LIMIT,
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.update(config)
    app.json.ensure_ascii = False

    from .api import bp as api_bp

    app.register_blueprint(api_bp)
    return app
