"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from engine.models import Base


def test_migrations_match_models(db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_people_of_a_leidinggevende_switched_off_earlier_get_none(tmp_path):
    """Migration 0011: whoever still reported to a switched-off leidinggevende (switched off
    before users.deactivate took their reports off them) has no leidinggevende after it."""
    from alembic import command
    from sqlalchemy import text

    from engine import schema

    url = f"sqlite:///{tmp_path / 'oud.sqlite'}"
    command.upgrade(schema.alembic_config(url), "0010")
    engine = create_engine(url)
    with engine.begin() as conn:
        for uid, name, manager, active in ((1, "lg", None, False), (2, "mw", 1, True),
                                          (3, "lg2", None, True), (4, "mw2", 3, True)):
            conn.execute(text(
                "INSERT INTO users (id, name, display_name, password_hash, roles, manager_id, active,"
                " created_at, session_version) VALUES (:id, :name, :name, 'x', 'medewerker', :m,"
                " :a, '2026-01-01 00:00:00', 0)"),
                {"id": uid, "name": name, "m": manager, "a": active})
    schema.upgrade(url)
    with engine.connect() as conn:
        managers = dict(conn.execute(text("SELECT name, manager_id FROM users")).all())
    engine.dispose()
    assert managers == {"lg": None, "mw": None, "lg2": None, "mw2": 3}
