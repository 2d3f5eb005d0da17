"""Alerts out and data in: alert channels and their delivery queue, inbound webhook senders
and the events they sent, and invoice reconciliations.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from thrifty.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("alert_events") as batch:
        # Room for an override's id: one event per override and decision.
        batch.alter_column("threshold", type_=sa.String(length=64), existing_nullable=False)
        batch.add_column(sa.Column("fanned_out", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE alert_events SET fanned_out = 1")  # history is not sent to new channels
    op.create_index("ix_alert_events_fan_out", "alert_events", ["fanned_out", "id"])
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("scope_type", sa.String(length=16), nullable=True),
        sa.Column("scope_id", sa.String(length=200), nullable=True),
        sa.Column("events", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("lease_until", nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        _time("last_attempt_at", nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _time("created_at"),
        _time("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["alert_channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_alert_deliveries_once", "alert_deliveries", ["channel_id", "event_id"], unique=True
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "webhook_senders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "inbound_events",
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _time("received_at"),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "event_id"),
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("layout", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _time("created_at"),
        _time("adjusted_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("reconciliations")
    op.drop_table("inbound_events")
    op.drop_table("webhook_senders")
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_index("ux_alert_deliveries_once", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_channels")
    op.drop_index("ix_alert_events_fan_out", table_name="alert_events")
    with op.batch_alter_table("alert_events") as batch:
        batch.drop_column("fanned_out")
        batch.alter_column("threshold", type_=sa.String(length=16), existing_nullable=False)
