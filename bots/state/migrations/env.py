"""Alembic environment of the nightly run's store: migrations run on the connection the store hands
over (``config.attributes["connection"]``), inside the store's own transaction."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
