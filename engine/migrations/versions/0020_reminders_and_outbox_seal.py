"""Reminders judged by the rows whose seal holds, and the mail outbox sealed (issue 11)

- notifications: the unique constraint on (user_id, task_id, kind) goes. A row a database
  writer added for a person, task and kind held the place of the real reminder, which was then
  never written or sent. engine/reminders.py now counts only the rows whose seal holds
  (engine/notification_seals.py) and writes its reminders one writer at a time (a PostgreSQL
  advisory lock; SQLite's writers take turns); an index on (task_id, kind) serves its look-up.
- mail_outbox.seal: a keyed hash over the notification a row mails and whether it was sent
  (engine/outbox_seals.py). A row planted to mail a notification again, or a sent row set back
  to pending, is held and never sent. The rows written before stay without a seal (sealing
  them here would vouch for whatever they hold now); one that still waits is held. One
  `mail_outbox_sealed` admin-log line names the last of them and how many there are, so
  `meldcode verify --all` notes them and names a row without a seal added later.

SQLite copies the notifications table to drop the constraint (batch); mail_outbox gets a
plain ADD COLUMN.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine import outbox_seals

    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("uq_notifications_user_task_kind", type_="unique")
        batch.create_index("ix_notifications_task_kind", ["task_id", "kind"])
    op.add_column("mail_outbox", sa.Column("seal", sa.String(length=64), nullable=True))
    outbox_seals.record(op.get_bind(), "meldcode migratie 0020")


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35 on, PostgreSQL); the admin log is append-only: its line stays
    op.execute("ALTER TABLE mail_outbox DROP COLUMN seal")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_task_kind")
        batch.create_unique_constraint("uq_notifications_user_task_kind", ["user_id", "task_id", "kind"])
