"""notifications, the mail outbox, users.email and consultations (issue 13)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa  # noqa: F401 - used once the tables are filled in
from alembic import op  # noqa: F401

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on issue 13


def downgrade() -> None:
    pass
