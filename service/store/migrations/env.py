"""Alembic environment: paperboy always hands in an open connection (see service.store.migrate)."""

from alembic import context

from service.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
