"""notifications.seal: a keyed hash over whom a notification is for and what it says (issue 11)

A notification moved to another user, or added by hand with a mail_outbox row, was shown to
that user and mailed to them. From now on each row is sealed when it is written
(engine/notification_seals.py: HMAC-SHA-256 with the history key over user_id, at, kind,
case_id, task_id and params; not read_at). The rows written before stay without a seal: sealing
them here would vouch for whatever they hold now. They are no longer shown or mailed; one
`notifications_sealed` admin-log line names the last of them and how many there are, so
`meldcode verify --all` notes them and names a row without a seal added later.

Plain ADD COLUMN (no table copy).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine import notification_seals

    op.add_column("notifications", sa.Column("seal", sa.String(length=64), nullable=True))
    notification_seals.record(op.get_bind(), "meldcode migratie 0019")


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35 on, PostgreSQL); the admin log is append-only: its line stays
    op.execute("ALTER TABLE notifications DROP COLUMN seal")
