"""The prod server's settings, from the environment; each bad value is one clear line.

gunicorn reads WEB_CONCURRENCY itself while importing its config module (the class `Workers`
in gunicorn/config.py: `default = int(os.environ.get("WEB_CONCURRENCY", 1))`), so a bad value
crashes gunicorn with a traceback before gunicorn.conf.py runs: `python -m prod` checks these
settings before gunicorn starts.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path

from app.config import (
    LOG_FORMAT,
    MAX_APP_THREADS,
    METRICS_PORT,
    ConfigError,
    load_settings,
    prepare_data_dir,
)
from setting import Number, port

SERVER_SETTINGS = {
    s.name: s
    for s in (
        port("PORT", 8000, "the port to listen on"),
        Number("WEB_CONCURRENCY", 2, "the number of worker processes", 1, 64),
        Number(
            "GUNICORN_THREADS", 4, "the threads each worker runs the app in", 1, MAX_APP_THREADS
        ),
        Number(
            "GUNICORN_WORKER_CONNECTIONS",
            1000,
            "the open connections each worker serves at once",
            1,
            100_000,
        ),
        Number("GUNICORN_TIMEOUT", 30, "the seconds a silent worker lives", 1, 3600),
        Number(
            "GUNICORN_GRACEFUL_TIMEOUT", 5, "the seconds requests get to finish on stop", 0, 3600
        ),
    )
}
# Prod's logs go to a log pipeline: JSON lines unless LOG_FORMAT says otherwise (the app's own
# default, for people reading a terminal, is text).
PROD_LOG_FORMAT = dataclasses.replace(LOG_FORMAT, default="json")
# prometheus_client's multiprocess folder (gunicorn.conf.py names it in PROMETHEUS_MULTIPROC_DIR):
# on /tmp, a tmpfs in the container (the root file system is read-only), so writes cost no I/O.
METRICS_DIR = Path("/tmp/berth-metrics")  # noqa: S108 (the container's private tmpfs)
# gunicorn's own variables: options on a command line, and what it sets for its re-exec.
GUNICORN_OWN = ("GUNICORN_CMD_ARGS", "GUNICORN_PID", "GUNICORN_FD", "GUNICORN_DIRTY_SOCKET")


def server_settings(environ: Mapping[str, str]) -> dict[str, int]:
    """PORT, WEB_CONCURRENCY and the GUNICORN_* numbers; a GUNICORN_* name that is neither
    one of these nor gunicorn's own is refused, so that a typo does not pass unnoticed."""
    for name in sorted(environ):
        if name.startswith("GUNICORN_") and name not in (*SERVER_SETTINGS, *GUNICORN_OWN):
            known = ", ".join(n for n in SERVER_SETTINGS if n.startswith("GUNICORN_"))
            raise ConfigError(
                f"{name}={environ[name]!r} is not a setting of this server; accepted: {known}, "
                "GUNICORN_CMD_ARGS (gunicorn options)"
            )
    return {name: number.get(environ) for name, number in SERVER_SETTINGS.items()}


def log_format(environ: Mapping[str, str]) -> str:
    return PROD_LOG_FORMAT.get(environ)


def metrics_port(environ: Mapping[str, str]) -> int:
    return METRICS_PORT.get(environ)


def check_metrics_dir() -> None:
    """The folder the metrics folder goes in can be written (a real write, as for DATA_DIR)."""
    try:
        with tempfile.TemporaryFile(dir=METRICS_DIR.parent):
            pass
    except OSError as e:
        raise ConfigError(
            f"the metrics need a writable {METRICS_DIR.parent} (a tmpfs: docker run --tmpfs "
            f"{METRICS_DIR.parent}; Kubernetes: an emptyDir), or METRICS_PORT=0: {e}"
        ) from e


def check_gunicorn_cmd_args(environ: Mapping[str, str]) -> None:
    """Parse GUNICORN_CMD_ARGS with gunicorn's own parser, which would print its usage and
    exit 2 on an error; here the error becomes one line."""
    raw = environ.get("GUNICORN_CMD_ARGS", "")
    if not raw.strip():
        return
    from gunicorn.config import Config

    def refuse(message: str) -> None:
        raise ConfigError(f"GUNICORN_CMD_ARGS={raw!r} is not valid: {message}")

    parser = Config().parser()
    parser.error = refuse  # type: ignore[method-assign]
    try:
        words = shlex.split(raw)
    except ValueError as e:
        refuse(str(e))
    parser.parse_args(words)


def check_all(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Every setting the prod server and the app read; raises ConfigError on the first bad one."""
    app_settings = load_settings(environ, {})
    if app_settings["DATA_DIR"]:
        prepare_data_dir(app_settings["DATA_DIR"])
    server = server_settings(environ)
    if app_settings["METRICS_PORT"] == server["PORT"]:
        raise ConfigError(
            f"METRICS_PORT and PORT are both {server['PORT']}: the metrics need a port of "
            "their own (METRICS_PORT=0 turns them off)"
        )
    if app_settings["METRICS_PORT"]:
        check_metrics_dir()
    check_gunicorn_cmd_args(environ)
    return server
