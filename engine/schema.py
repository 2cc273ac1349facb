"""Create or upgrade the database schema with Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for the migrations in engine/migrations on `url` (default: the
    configured database, engine.settings)."""
    # Alembic is imported when a schema is made or upgraded, not by every module (and every
    # `meldcode` command) that imports this one: it costs a tenth of a second or more.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", (url or settings.database_url()).replace("%", "%%"))
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the schema of `url` (default: the configured database) to the newest migration;
    raises what Alembic and the database driver raise."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
