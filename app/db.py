"""The database in the app, as Flask's tutorial has it: ``init_app`` registers the engine
(app/engine.py) and the per-request connection; one connection per request, one transaction
per write.

The schema is created and changed only by the migrations (`app/migrate.py`), which whoever
starts the app runs once before it serves: `create_app()` for the dev server and the tests,
gunicorn's master in prod (`prod/startup.py`), or a separate `python -m prod migrate`.
"""

import contextlib

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from .engine import make_engine


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["berth_db"]


def get_db() -> Connection:
    if "db" not in g:
        g.db = get_engine().connect()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        # A connection lost with its server (a restart) fails to close; the pool drops it.
        with contextlib.suppress(SQLAlchemyError):
            conn.close()


def schema_ready(conn: Connection) -> bool:
    """Whether the notes table and its index exist; reads the schema only, never the notes."""
    inspector = inspect(conn)
    if not inspector.has_table("notes"):
        return False
    return "notes_by_created" in {index["name"] for index in inspector.get_indexes("notes")}


def init_app(app: Flask) -> None:
    app.extensions["berth_db"] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(close_db)
