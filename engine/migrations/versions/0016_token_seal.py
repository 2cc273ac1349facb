"""api_tokens.seal: a keyed seal over every API token row (issue 11 F1)

HMAC-SHA-256 (history key) over id, user_id, token_hash, created_at, expires_at and revoked_at
(engine/tokens.py token_seal), so a token row inserted, moved to another user, un-revoked or
given a later expiry outside the product gives no access and is named by
`meldcode verify --all`. The rows that exist now are sealed as they stand (trust on first use,
as 0014 did for users); a row whose time does not parse stays unsealed (verify names it).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine import tokens

    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("seal", sa.String(length=64), nullable=False, server_default=""))
    bind = op.get_bind()
    ids = [row.id for row in bind.execute(tokens.TOKEN_ROWS) if _sealable(row)]
    tokens.store_seals(bind, ids)


def _sealable(row: sa.Row) -> bool:
    from engine import tokens

    try:
        tokens.token_seal(row)
    except (TypeError, ValueError):
        return False
    return True


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("seal")
