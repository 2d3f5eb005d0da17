"""The migrations build exactly the schema that ``storage/schema.py`` declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from thrifty.storage.database import Database
from thrifty.storage.migrate import upgrade
from thrifty.storage.schema import metadata


def test_migrated_schema_matches_declared_schema(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_downgrade_to_base_and_back(database: Database) -> None:
    from alembic import command

    from thrifty.storage.migrate import alembic_config

    config = alembic_config()
    with database.engine.connect().execution_options(thrifty_write=True) as conn, conn.begin():
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    upgrade(database)
    test_migrated_schema_matches_declared_schema(database)
