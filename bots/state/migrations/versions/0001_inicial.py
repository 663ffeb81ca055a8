"""The nightly run's state: what happened to each client, step by step (never what it wants: that
is the clients file). Timestamps are ISO-8601 text (UTC) on every backend, so SQLite files written
before Alembic keep their values.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_state",
        sa.Column("nit", sa.Text, primary_key=True),
        sa.Column("step", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False, server_default="pendiente"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # failures in a row
        sa.Column("total_runs", sa.Integer, nullable=False, server_default="0"),  # every run of the step
        sa.Column("last_outcome", sa.Text),  # bots.cli.Outcome as JSON (redacted)
        sa.Column("evidence", sa.Text, nullable=False, server_default="[]"),  # JSON list of paths
        sa.Column("not_before", sa.Text),  # do not try before (ISO, UTC)
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("nit", sa.Text, nullable=False),
        sa.Column("fecha_inicio", sa.Text, nullable=False),  # the approved production start date
        sa.Column("aprobado_por", sa.Text, nullable=False),  # who approved it and how it is on record
        sa.Column("aprobado_en", sa.Text, nullable=False),  # when it was recorded
        sa.Column("evidencia", sa.Text),
        sa.Column("registrado_por", sa.Text),  # the operator's OS user who recorded it
    )
    op.create_index("approvals_nit", "approvals", ["nit", "id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text),
    )
    op.create_table(  # per portal host: the earliest time (epoch s) of the next request slot
        "rate_slots",
        sa.Column("host", sa.Text, primary_key=True),
        sa.Column("next_at", sa.Float, nullable=False),
    )
    op.create_table(  # per portal: consecutive portal errors and, when open, until when it is paused
        "breakers",
        sa.Column("portal", sa.Text, primary_key=True),
        sa.Column("consecutive", sa.Integer, nullable=False, server_default="0"),
        sa.Column("open_until", sa.Text),
        sa.Column("last_text", sa.Text),
    )
