"""The SQL schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create it.

Money is integer nano-USD (``BigInteger``) or exact decimal text, never a float column.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from thrifty.storage.types import DecimalText, UTCDateTime

metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("provider", String(200), nullable=False),
    Column("upstream_model", String(200), nullable=False),
    Column("context_window", Integer, nullable=False),
    Column("max_output_tokens", Integer),
    Column("capabilities", JSON, nullable=False),
    Column("quality", JSON, nullable=False),
    Column("catalog_id", String(200)),
    Column("source", String(16), nullable=False),  # config | api
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

model_prices = Table(
    "model_prices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(200), ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("input_per_mtok", DecimalText, nullable=False),
    Column("output_per_mtok", DecimalText, nullable=False),
    Column("cached_input_per_mtok", DecimalText),
    Column("cache_write_per_mtok", DecimalText),
    Column("source", String(16), nullable=False),  # config | api | webhook
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_model_prices_model", "model_id", "effective_from"),
)

# One row per cached collection; a writer bumps the version so every process reloads.
cache_versions = Table(
    "cache_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
)
