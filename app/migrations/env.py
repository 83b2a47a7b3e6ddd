"""Alembic's environment: always on the connection `app.migrate` opened and locked."""

from alembic import context

from app.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("berth: run migrations with `python -m app.migrate`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite changes most of a table only by copying it: let future migrations do that.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
