"""users.seal: a keyed seal over every users row, and a deploy line for every version (issue 11)

- users.seal: HMAC-SHA-256 (history key) over the row's fields (engine/config_seals.py), so a
  row changed or added outside the product (roles, password hash, leidinggevende, active) is
  seen by `meldcode verify --all` and cannot sign in. The rows that exist now are sealed as
  they are (trust on first use, as 0005 did for case headers).
- a process version deployed before the admin log existed gets a `process_recorded` line with
  its set's SHA-256 and file names, which verify compares the stored files with from then on.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine import config_seals

    op.add_column("users", sa.Column("seal", sa.String(length=64), nullable=False, server_default=""))
    bind = op.get_bind()
    config_seals.seal(bind)
    config_seals.record_versions(bind, "meldcode migratie 0014")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("seal")
