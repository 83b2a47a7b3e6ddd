"""The database engine, apart from Flask: SQLite (the default, a file in DATA_DIR) or
MariaDB/MySQL through PyMySQL, with the settings each needs, and one line for any database
error. Used by the app (app/db.py), the migrations (app/migrate.py) and prod's start-up.
"""

import sqlite3
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool, Pool, QueuePool, SingletonThreadPool

from .config import MAX_APP_THREADS

DB_FILENAME = "notes.sqlite3"

# How long an SQLite statement waits for another process's write lock ("database is locked").
LOCK_TIMEOUT_SECONDS = 10
# A database server that does not answer: fail (healthz 503) instead of hanging a request.
CONNECT_TIMEOUT_SECONDS = 3
READ_WRITE_TIMEOUT_SECONDS = 10


def connect(path: str | Path) -> sqlite3.Connection:
    """One SQLite connection; the engine calls it (looked up at each call) for each request."""
    conn = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS)
    conn.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_SECONDS * 1000}")
    # Durable commits: each acknowledged write is on disk (WAL is set by the migrations).
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def sqlite_url(path: str | Path) -> URL:
    """The URL of an SQLite file (what DATABASE_URL defaults to: DB_FILENAME in DATA_DIR)."""
    return URL.create("sqlite", database=str(path))


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        path = url.database
        # A fresh connection per request: no pool state shared by gevent and the
        # worker's threads, and opening a local file costs microseconds.
        return create_engine("sqlite://", creator=lambda: connect(path), poolclass=NullPool)
    pool_class, pool_args = server_pool()
    engine = create_engine(
        url,
        poolclass=pool_class,
        **pool_args,
        # A connection dropped by a database restart is noticed and replaced, not used.
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "read_timeout": READ_WRITE_TIMEOUT_SECONDS,
            "write_timeout": READ_WRITE_TIMEOUT_SECONDS,
            "charset": "utf8mb4",
        },
    )

    @event.listens_for(engine, "connect")
    def _strict(dbapi_conn, _record) -> None:
        # Refuse, never silently truncate, whatever the server's sql_mode default is.
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")

    utf8_password(engine)
    return engine


def utf8_password(engine: Engine) -> None:
    """Hand PyMySQL the password as UTF-8 bytes.

    PyMySQL encodes a str password as Latin-1 (connections.py: `password.encode("latin1")`),
    while the server checks the bytes the password was set with, UTF-8 from the mariadb client
    and the official image's entrypoint: a non-ASCII password was refused (1045), or failed
    with UnicodeEncodeError beyond Latin-1. Bytes are passed through as they are.
    Upstream (PyMySQL/PyMySQL#1252, open): "encode str passwords as UTF-8, the default charset".
    """

    @event.listens_for(engine, "do_connect")
    def _encode(_dialect, _record, _cargs, cparams) -> None:
        if isinstance(cparams.get("password"), str):
            cparams["password"] = cparams["password"].encode("utf-8")


def server_pool() -> tuple[type[Pool], dict]:
    """The connection pool for a database server: one connection per thread under gevent.

    The prod worker (prod/worker.py) runs the app in native threads of a gevent ThreadPool,
    with the socket module patched: a PyMySQL socket then belongs to the gevent hub of the
    thread that opened it, and a pooled connection handed to another thread fails with
    "greenlet.error: Cannot switch to a different thread" (under load, 1 request in 10 was a
    500). SingletonThreadPool keeps each thread's connection in that thread; the worker's
    threads are a fixed set, so this is a pool of GUNICORN_THREADS per worker. Without gevent
    (the dev server, the tests) a normal queue pool serves any thread.
    Upstream report, in short: "gevent: a socket created in one native thread cannot be used
    from another (its watchers belong to the creating thread's hub)".
    """
    try:
        from gevent import monkey

        patched = monkey.is_module_patched("socket")
    except ImportError:
        patched = False
    if patched:
        return SingletonThreadPool, {"pool_size": MAX_APP_THREADS}
    return QueuePool, {}


def describe(e: BaseException) -> str:
    """One line for an error: for a database error, the driver's message without SQLAlchemy's
    SQL echo; for any other, its message with the line breaks folded."""
    if isinstance(e, DBAPIError) and e.orig is not None:
        e = e.orig
    text = " ".join(str(e).split())
    return text or type(e).__name__
