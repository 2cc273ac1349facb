"""admin_log.seq, admin_log.prev_hash: the admin log as a chain (issue 11)

Each line written from now on carries its position (seq: 1, 2, 3, ...; unique) and the keyed
hash of the line before it, and its keyed hash covers both (engine/admin_chain.py line_hash),
so a line copied as a new row, two lines swapped or a line removed is named by
`meldcode verify --all`, and a copied settings line no longer rolls a setting back. The lines
written before keep their keyed hash over their content alone (never rehashed: that would
vouch for whatever they hold now). When there are such lines, a first chained line
`admin_log_chained` follows the newest of them and counts them (earlier_lines), so a line
added or removed among them later is named too.

Plain ADD COLUMN (no table copy): the append-only and log-queue triggers stay as they are.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine import admin_chain, audit

    op.add_column("admin_log", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("admin_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_admin_log_seq", "admin_log", ["seq"], unique=True)
    bind = op.get_bind()
    earlier = bind.execute(sa.text("SELECT count(*) FROM admin_log")).scalar() or 0
    if earlier:
        audit.log_admin(bind, "meldcode migratie 0018", admin_chain.CHAINED,
                        {"earlier_lines": earlier})


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35 on, PostgreSQL): a table copy would lose the triggers
    op.drop_index("ix_admin_log_seq", table_name="admin_log")
    op.execute("ALTER TABLE admin_log DROP COLUMN prev_hash")
    op.execute("ALTER TABLE admin_log DROP COLUMN seq")
