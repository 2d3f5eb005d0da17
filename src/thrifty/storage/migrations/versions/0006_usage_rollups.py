"""Cost analysis: each usage record's task type, usage summed per hour and per day, and the
requests' shared preambles.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from thrifty.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SUMS = ("requests", "ok_requests", "input_tokens", "cached_input_tokens", "output_tokens")


def _sums() -> list[sa.Column]:
    return [
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _SUMS),
        sa.Column("cost_nano", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("task_type", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("rolled_up", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_usage_records_pending", "usage_records", ["rolled_up", "id"])
    op.create_table(
        "usage_cube",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("bucket", UTCDateTime(timezone=True), nullable=False),
        sa.Column("scope_type", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_usage_cube",
        "usage_cube",
        ["grain", "scope_type", "scope_id", "dimension", "bucket", "value"],
        unique=True,
    )
    op.create_table(
        "usage_rollups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("bucket", UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("task_type", sa.String(length=32), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_usage_rollups",
        "usage_rollups",
        ["grain", "bucket", "org_id", "team_id", "user_id", "key_id", "model", "provider",
         "task_type"],
        unique=True,
    )  # fmt: skip
    op.create_table(
        "usage_tag_rollups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("bucket", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tag", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_usage_tag_rollups",
        "usage_tag_rollups",
        ["grain", "bucket", "tag", "org_id", "team_id", "user_id", "model"],
        unique=True,
    )
    op.create_table(
        "prompt_prefixes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", UTCDateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_prompt_prefixes",
        "prompt_prefixes",
        ["day", "fingerprint", "org_id", "team_id", "user_id", "key_id", "model"],
        unique=True,
    )
    op.create_table(
        "prompt_texts",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("excerpt", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    from thrifty.storage.rollups import rebuild  # the sums of records written before them

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ux_usage_cube", table_name="usage_cube")
    op.drop_table("usage_cube")
    op.drop_index("ix_usage_records_pending", table_name="usage_records")
    op.drop_table("prompt_texts")
    op.drop_index("ux_prompt_prefixes", table_name="prompt_prefixes")
    op.drop_table("prompt_prefixes")
    op.drop_index("ux_usage_tag_rollups", table_name="usage_tag_rollups")
    op.drop_table("usage_tag_rollups")
    op.drop_index("ux_usage_rollups", table_name="usage_rollups")
    op.drop_table("usage_rollups")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("rolled_up")
        batch.drop_column("task_type")
