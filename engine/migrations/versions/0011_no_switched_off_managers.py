"""Nobody reports to a switched-off leidinggevende (issue 13)

users.deactivate now takes the people who reported to a leidinggevende off them, so their
leidinggevende tasks (besluit_afstemmen) go to every leidinggevende rather than to someone who
cannot sign in (CONTRACT section 5: "when the owner has none: any leidinggevende"). This does
the same for leidinggevenden switched off before: their reports get no leidinggevende.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("manager_id", sa.Integer),
                     sa.column("active", sa.Boolean))
    switched_off = sa.select(users.c.id).where(users.c.active.is_(False)).scalar_subquery()
    op.execute(users.update().where(users.c.manager_id.in_(switched_off))
               .values(manager_id=None))


def downgrade() -> None:
    pass  # who reported to whom before cannot be told any more
