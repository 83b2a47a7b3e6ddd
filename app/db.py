"""SQLite access: one connection per request, schema created at startup."""

import sqlite3
from pathlib import Path

from flask import Flask, current_app, g

DB_FILENAME = "notes.sqlite3"

# Several gunicorn workers start at once and race to create the schema; waiting on
# SQLite's lock beats failing with "database is locked".
LOCK_TIMEOUT_SECONDS = 10

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


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


def init_db(path: str | Path) -> None:
    conn = connect(path)
    try:
        # WAL lets readers and the single writer work at once across workers; the mode
        # is stored in the file, so setting it on every start is idempotent.
        conn.execute("PRAGMA journal_mode = WAL")
        with conn:
            conn.execute(SCHEMA)
    finally:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    init_db(app.config["DATABASE"])
