"""Alembic environment: runs on the connection handed over by ``thrifty.storage.migrate``."""

from alembic import context

from thrifty.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
context.run_migrations()
