"""Apply the Alembic migrations in ``migrations/`` to a database, once, under a lock."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from sqlalchemy import text

if TYPE_CHECKING:
    from thrifty.storage.database import Database

_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_ID = 0x7468726966747901  # "thrifty" + 1: one advisory lock for migrations


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; concurrent callers wait for the first one."""
    config = alembic_config()
    with database.engine.connect().execution_options(thrifty_write=True) as conn, conn.begin():
        if not database.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
