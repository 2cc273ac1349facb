"""settings_recorded: every stored setting gets a line in the admin log (issue 11 F8)

From now on `meldcode verify --all` compares the organisation's settings with the admin log
(engine/settings_seal.py): the newest genuine `settings_changed` line that sets a key says the
value its row must hold, and pages use no other. Settings stored before the admin log existed
(or written by hand before this check) have no such line; each that reads as JSON is recorded
as it stands in one `settings_recorded` line (trust on first use, as 0014 did for users and
process versions). A key that already has a line is left as it is: a row that differs from its
line stays a finding, never laundered. No schema change.

Revision ID: 0017
Revises: 0016
"""

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    from engine import organisation, settings_seal

    settings_seal.record(op.get_bind(), "meldcode migratie 0017", organisation.DEFAULTS)


def downgrade() -> None:
    pass  # the admin log is append-only: its lines stay
