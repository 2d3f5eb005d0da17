"""Rate limits and their per-minute counters.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from thrifty.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("scope_type", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("requests_per_minute", sa.BigInteger(), nullable=True),
        sa.Column("tokens_per_minute", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ux_rate_limits_scope", "rate_limits", ["scope_type", "scope_id"], unique=True)
    op.create_table(
        "rate_counters",
        sa.Column("scope_type", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("window_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope_type", "scope_id", "window_start"),
    )
    op.create_index("ix_rate_counters_window", "rate_counters", ["window_start"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rate_counters_window", table_name="rate_counters")
    op.drop_table("rate_counters")
    op.drop_index("ux_rate_limits_scope", table_name="rate_limits")
    op.drop_table("rate_limits")
