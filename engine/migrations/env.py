"""Alembic environment: the URL comes from the caller (engine.schema), never from a file."""

from alembic import context
from sqlalchemy import create_engine

from engine.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
connection = config.attributes.get("connection")


def run(conn):
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    assert url is not None, "engine.schema sets sqlalchemy.url"
    engine = create_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
