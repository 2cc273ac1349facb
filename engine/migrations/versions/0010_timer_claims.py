"""timers.claimed_until: a worker's short claim on a due case (issue 13, the timer benchmark)

On SQLite the scheduler plans the due cases outside the write lock; without a claim, two
workers read the same due cases and both planned each of them, one plan thrown away at the
write. A claim only keeps the work apart: exactly once still rests on the case's version_id.
The column is null when nobody has claimed the row; every write of a case replaces its timer
rows, so a claim ends with the write it was for.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("timers", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("claimed_until")
