"""tasks.seal: a keyed hash over what replay cannot give back of a task row (issue 11)

A task row's id, case, step, name, lane, ready_at, due_at and urgent are covered by an
HMAC-SHA-256 with the history key (engine/task_rows.py seal_of), as the case header is by
cases.header_hash; the rest of the row verify derives from the history. Rows written before
this revision are sealed here as they stand (a time that does not parse stays unsealed:
verify names it).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("seal", sa.String(length=64), nullable=False, server_default=""))
    _backfill()


def _backfill() -> None:
    from engine import task_rows
    from engine.stored_time import StoredTime, damaged_time

    bind = op.get_bind()
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.String()),
        sa.column("case_id", sa.Integer()),
        sa.column("step", sa.String()),
        sa.column("name", sa.String()),
        sa.column("lane", sa.String()),
        sa.column("ready_at", StoredTime()),
        sa.column("due_at", StoredTime()),
        sa.column("urgent", sa.Boolean()),
        sa.column("seal", sa.String()),
    )
    update = tasks.update().where(tasks.c.id == sa.bindparam("b_id")).values(seal=sa.bindparam("b_seal"))
    after = ""
    while True:  # in batches by id: memory stays flat over many rows
        rows = bind.execute(
            sa.select(tasks).where(tasks.c.id > after).order_by(tasks.c.id).limit(_BATCH)
        ).all()
        if not rows:
            break
        seals = [
            {"b_id": row.id, "b_seal": task_rows.seal_of(row)}
            for row in rows
            if not (damaged_time(row.ready_at) or damaged_time(row.due_at))
        ]
        if seals:
            bind.execute(update, seals)
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("seal")
