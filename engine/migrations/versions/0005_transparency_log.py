"""One log across all cases (RFC 9162 style), the admin log, and a keyed hash over case headers

- admin_log: every administrative action (users, tokens, settings, deploys, migrations);
  append-only, each row with a keyed hash of its content.
- log_queue: rows written but not yet sequenced into the log. AFTER INSERT triggers on
  history_events, access_log and admin_log fill it inside the writer's own transaction (a plain
  insert: writers never wait on the log); the sequencer moves them into log_entries afterwards,
  as Trillian's sequencer does.
- log_entries: the leaves of the Merkle tree, in order (index), each with a keyed entry hash.
  Append-only.
- cases.header_hash, access_count, access_head: the case row's own fields (client reference,
  reason, dates, owner, counts and heads of both chains, version, status, outcome) under a
  keyed hash, so a changed, swapped or rewound case row is seen by `meldcode verify`.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("admin_log", "log_entries")
QUEUED = (("history_events", "event"), ("access_log", "access"), ("admin_log", "admin"))


def upgrade() -> None:
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "log_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
        sa.UniqueConstraint("kind", "row_id", name="uq_log_entries_kind_row"),
    )
    op.create_index("ix_log_entries_case_id", "log_entries", ["case_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("header_hash", sa.String(length=64), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("access_count", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("access_head", sa.String(length=64), nullable=False,
                                   server_default=""))

    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # meldcode_append_only() comes from 0002.
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION meldcode_append_only()"
            )
        op.execute(
            "CREATE FUNCTION meldcode_log_queue() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO log_queue (kind, row_id, case_id) "
            "VALUES (TG_ARGV[0], NEW.id, (to_jsonb(NEW) ->> 'case_id')::integer); "
            "RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        for table, kind in QUEUED:
            op.execute(
                f"CREATE TRIGGER {table}_log_queue AFTER INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION meldcode_log_queue('{kind}')"
            )
    else:
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        for table, kind in QUEUED:
            case_id = "NULL" if table == "admin_log" else "NEW.case_id"
            op.execute(
                f"CREATE TRIGGER {table}_log_queue AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO log_queue (kind, row_id, case_id) VALUES ('{kind}', NEW.id, "
                f"{case_id}); END"  # noqa: S608 - constant names, no input
            )
    _backfill()


def _backfill() -> None:
    """Rows written before this revision: queued in time order, and every case header sealed
    with its access-log count and head."""
    from engine import audit

    bind = op.get_bind()
    bind.execute(sa.text(
        "INSERT INTO log_queue (kind, row_id, case_id) SELECT kind, id, case_id FROM ("
        "SELECT 'event' AS kind, id, case_id, at FROM history_events UNION ALL "
        "SELECT 'access' AS kind, id, case_id, at FROM access_log) AS old ORDER BY at, kind, id"
    ))
    cases = sa.table("cases", sa.column("id"))
    for (case_id,) in bind.execute(sa.select(cases.c.id).order_by(cases.c.id)).all():
        count, head = bind.execute(sa.text(
            "SELECT COUNT(*), (SELECT hash FROM access_log WHERE case_id = :c ORDER BY id DESC "
            "LIMIT 1) FROM access_log WHERE case_id = :c"), {"c": case_id}).one()
        bind.execute(sa.text("UPDATE cases SET access_count = :n, access_head = :h WHERE id = :c"),
                     {"n": count, "h": head or "", "c": case_id})
        audit.seal_case(bind, case_id)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, _kind in QUEUED:
        op.execute(f"DROP TRIGGER {table}_log_queue" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION meldcode_log_queue()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    else:
        for table in APPEND_ONLY:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{event}")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("access_head")
        batch.drop_column("access_count")
        batch.drop_column("header_hash")
    op.drop_index("ix_log_entries_case_id", table_name="log_entries")
    op.drop_table("log_entries")
    op.drop_table("log_queue")
    op.drop_table("admin_log")
