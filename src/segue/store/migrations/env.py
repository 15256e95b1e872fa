"""Alembic environment: runs on the connection the store passes in."""

from alembic import context

from segue.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("segue migrations run through segue.store.migrate, with a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
