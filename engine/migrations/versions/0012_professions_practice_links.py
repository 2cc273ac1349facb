"""users.beroepsgroep, practice cases and linked cases (issue 14)

- users.beroepsgroep: the professional group whose afwegingskader a user follows (KNMG, V&VN or
  the shared one); NULL: the organisation's setting.
- cases.practice: a fictional case of practice mode, kept apart from real cases and from every
  audit figure.
- case_links: a case started for the children of another case (CONTRACT section 5:
  `linked_case`), one row per link, read both ways.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("beroepsgroep", sa.String(length=40), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("practice", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.create_index("ix_cases_practice", ["practice"])
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("linked_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["linked_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "linked_id", name="uq_case_links_case_linked"),
    )
    op.create_index("ix_case_links_case_id", "case_links", ["case_id"])
    op.create_index("ix_case_links_linked_id", "case_links", ["linked_id"])


def downgrade() -> None:
    op.drop_index("ix_case_links_linked_id", "case_links")
    op.drop_index("ix_case_links_case_id", "case_links")
    op.drop_table("case_links")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_practice")
        batch.drop_column("practice")
    op.drop_column("users", "beroepsgroep")
