"""SQLite access: one connection per request; the schema is set up once, before serving.

Who sets the schema up: `create_app()` for the dev server and the tests (one process), and
gunicorn's master in prod (`prod/startup.py`, before it forks a worker), so that workers never
race to create it. Workers built with INIT_DB=False only open connections.

Under gevent (prod) SQLite calls do not yield to other greenlets, so a transaction is never
interleaved with another one of the same worker: keep network I/O out of transactions.
"""

import sqlite3
from pathlib import Path

from flask import Flask, current_app, g

DB_FILENAME = "notes.sqlite3"

# How long a statement waits for another process's write lock before "database is locked".
LOCK_TIMEOUT_SECONDS = 10

# The largest value an SQLite INTEGER holds: bigger ids, offsets or limits cannot be bound.
SQLITE_MAX_INT = 2**63 - 1

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    # Serves the list order (newest first) straight from the index: no sort of the table.
    "CREATE INDEX IF NOT EXISTS notes_by_created ON notes (created_at, id)",
)
SCHEMA_OBJECTS = {("table", "notes"), ("index", "notes_by_created")}


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS)
    conn.row_factory = _dict_row
    conn.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_SECONDS * 1000}")
    return conn


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def schema_ready(conn: sqlite3.Connection) -> bool:
    """Whether the tables and indexes exist; reads the schema only, never the notes."""
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return {(row["type"], row["name"]) for row in rows} >= SCHEMA_OBJECTS


def init_db(path: str | Path) -> None:
    """Create what is missing. Run it in one process at a time (see the module docstring):
    switching to WAL takes an exclusive lock that does not wait for the busy timeout."""
    conn = connect(path)
    try:
        # WAL lets readers and the single writer work at once across workers; the mode is
        # stored in the file, so an existing database only needs the (read-only) check.
        if conn.execute("PRAGMA journal_mode").fetchone()["journal_mode"] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        if not schema_ready(conn):
            with conn:
                for statement in SCHEMA:
                    conn.execute(statement)
    finally:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    if app.config["INIT_DB"]:
        init_db(app.config["DATABASE"])
