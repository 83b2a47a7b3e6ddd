"""gunicorn's start-up: the migrations once in the master, then the app in each worker.

The master runs the migrations in `on_starting`, before it forks any worker, and workers only
open connections: workers that created the schema themselves, all at once, would fail together
with "database is locked" (two switching a fresh file to WAL; that lock does not wait for the
busy timeout), and a worker that fails to boot stops gunicorn. Several containers on one
database take the migration lock in turn (app/migrate.py); a deployment can also run them
beforehand as a job (`python -m prod migrate`), and the masters then find nothing to do.

Metrics (app/metrics.py): each process writes its values to files in METRICS_DIR, on the tmpfs;
the master empties it before it starts the app, serves the sum of every file on METRICS_PORT,
and deletes a worker's live gauges when the worker exits (its counters stay: they still count).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import sys

from flask import Flask
from gunicorn.errors import AppImportError
from sqlalchemy.exc import SQLAlchemyError

from app import create_app
from app.config import ConfigError
from app.engine import describe

from .settings import METRICS_DIR, check_metrics_dir, log_format, metrics_port

STARTUP_ERRORS = (ConfigError, OSError, SQLAlchemyError)


def app_settings(init_db: bool) -> dict[str, object]:
    """What the master and the workers build the app with: prod's log format by default."""
    return {"INIT_DB": init_db, "LOG_FORMAT": log_format(os.environ)}


def prepare_metrics_dir(empty: bool) -> None:
    """The metrics' folder, when they are on: made if missing (gunicorn --print-config builds
    the app without on_starting), and emptied when `empty` (at the master's start: files of an
    earlier run would add to the counts)."""
    if not metrics_port(os.environ):
        return
    check_metrics_dir()
    if empty:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(exist_ok=True)


def on_starting(server: object) -> None:
    """gunicorn hook, in the master before it listens or forks: settings, the metrics folder
    and migrations."""
    try:
        prepare_metrics_dir(empty=True)
        create_app(app_settings(init_db=True))
    except STARTUP_ERRORS as e:
        raise SystemExit(f"berth: cannot start: {describe(e)}") from None


def when_ready(server: object) -> None:
    """gunicorn hook, in the master once it listens: the metrics on their own port."""
    port = metrics_port(os.environ)
    if not port:
        return
    from app import metrics

    try:
        metrics.serve(port)
    except OSError as e:
        raise SystemExit(f"berth: cannot start: METRICS_PORT {port}: {describe(e)}") from None


def child_exit(server: object, worker) -> None:
    """gunicorn hook, in the master when a worker has exited: its live gauges (requests in
    flight) no longer count."""
    if metrics_port(os.environ):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))


def worker_app() -> Flask:
    """The app of one worker (gunicorn's wsgi_app); the schema is in place already."""
    try:
        prepare_metrics_dir(empty=False)
        return create_app(app_settings(init_db=False))
    except STARTUP_ERRORS as e:
        # gunicorn prints an AppImportError as one line (no traceback) and stops.
        raise AppImportError(f"berth: worker cannot start: {describe(e)}") from None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def post_fork(server, worker) -> None:
    """gunicorn hook, the first code of a new worker process: do not lose a stop that comes
    while the worker boots.

    A worker installs its own signal handlers only after gevent's patching; until then a
    SIGTERM reaches the master's handler, inherited through fork, which puts it in this
    process's copy of the master's queue, where nobody reads it. The worker then serves on
    and the master waits out graceful_timeout (a `docker stop` right after a start took 5 s).
    From here on a stop signal ends the worker's loop, and one that came since the fork does.
    Upstream report, in short: "a worker ignores SIGTERM received before init_signals()".
    """

    def stop(signum: int, frame: object) -> None:
        worker.alive = False

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    while True:
        try:
            signum = server.SIG_QUEUE.get_nowait()
        except queue.Empty:
            break
        if signum in STOP_SIGNALS:
            worker.alive = False


def worker_exit(server: object, worker: object) -> None:
    """gunicorn hook, the last code of a worker process (its exit is under way): leave with
    the same exit code but without the interpreter's teardown of Flask and gevent, which
    costs more CPU time than the rest of a stop. Nothing is lost: requests are done, SQLite
    connections closed, and the logs are flushed here."""
    exiting = sys.exc_info()[1]
    code = exiting.code if isinstance(exiting, SystemExit) else None
    if not isinstance(code, int):
        return  # an unexpected way out: let Python finish as it would
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
