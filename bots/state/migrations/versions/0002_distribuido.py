"""What several machines must share: client leases (a lock with an expiry) and the step journal of
irreversible clicks (on one machine it may stay a file; across machines it lives here).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_leases",
        sa.Column("nit", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),  # host:pid of the worker holding the client
        sa.Column("expires_at", sa.Float, nullable=False),  # epoch seconds, the database's clock
        sa.Column("taken_at", sa.Text, nullable=False),
    )
    op.create_table(
        "step_journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("nit", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),  # bots.steps.StepRecord as JSON (redacted)
    )
    op.create_index("step_journal_nit", "step_journal", ["nit", "id"])
