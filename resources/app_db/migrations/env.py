"""Alembic environment: runs migrations on the connection that ``migrate()`` passes in."""

from __future__ import annotations

from alembic import context

from resources.app_db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through resources.app_db.session.migrate(database_url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
