"""The model registry, dated price overrides, and cache versions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from thrifty.storage.types import DecimalText, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("upstream_model", sa.String(200), nullable=False),
        sa.Column("context_window", sa.Integer, nullable=False),
        sa.Column("max_output_tokens", sa.Integer),
        sa.Column("capabilities", sa.JSON, nullable=False),
        sa.Column("quality", sa.JSON, nullable=False),
        sa.Column("catalog_id", sa.String(200)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "model_prices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "model_id",
            sa.String(200),
            sa.ForeignKey("models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("effective_from", UTCDateTime, nullable=False),
        sa.Column("input_per_mtok", DecimalText, nullable=False),
        sa.Column("output_per_mtok", DecimalText, nullable=False),
        sa.Column("cached_input_per_mtok", DecimalText),
        sa.Column("cache_write_per_mtok", DecimalText),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_model_prices_model", "model_prices", ["model_id", "effective_from"])
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cache_versions")
    op.drop_index("ix_model_prices_model", "model_prices")
    op.drop_table("model_prices")
    op.drop_table("models")
