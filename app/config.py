"""Settings read from environment variables, so one image runs anywhere (12-factor)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import URL

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# DATA_DIR when unset: the project's instance/ folder (Flask's convention; gitignored), for the
# app and for `python -m app.migrate` alike, whatever the current directory.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "instance"
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# json: one JSON object per line (prod's default, prod/settings.py); text: for people to read.
LOG_FORMATS = ("json", "text")
DEFAULT_LOG_FORMAT = "text"
# The port of the Prometheus metrics, apart from the app's; 0 turns the metrics off.
DEFAULT_METRICS_PORT = 9000

# The environment variables the app itself reads; the rest of .env.example belongs to
# gunicorn, compose and the Dockerfile.
ENV_SETTINGS = (
    "DATA_DIR",
    "DATABASE_URL",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "METRICS_PORT",
)


class ConfigError(ValueError):
    """A setting has a value the app cannot start with."""


def parse_max_body_bytes(raw: str | int | None) -> int:
    if raw is None:
        return DEFAULT_MAX_BODY_BYTES
    try:
        # bool is an int subclass; True would silently mean "1 byte".
        if isinstance(raw, bool):
            raise TypeError
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"MAX_BODY_BYTES must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"MAX_BODY_BYTES must be a positive integer, got {raw!r}")
    return value


# The database URLs the app speaks: SQLite (standard library) and MariaDB/MySQL through PyMySQL,
# which is pure Python (the prod image has no compiler for mysqlclient).
DRIVERS = {"sqlite": ("pysqlite",), "mysql": ("pymysql",), "mariadb": ("pymysql",)}
DATABASE_URL_FORMS = "sqlite:////PATH/FILE or mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE"


def database_url(raw: str | URL | None) -> URL | None:
    """DATABASE_URL parsed and checked; None when unset (SQLite in DATA_DIR). The value is
    never echoed in an error: it may hold a password."""
    # Imported here: `python -m prod` checks the settings before gunicorn starts, and must
    # answer a bad one at once (SQLAlchemy takes a few hundred ms to import).
    from sqlalchemy import URL
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if raw is None or isinstance(raw, URL):
        return raw
    try:
        url = make_url(str(raw).strip())
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"DATABASE_URL is not a database URL; expected {DATABASE_URL_FORMS}"
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend not in DRIVERS or driver not in DRIVERS[backend]:
        raise ConfigError(
            f"DATABASE_URL names {url.drivername!r}, which this app does not support; expected "
            f"{DATABASE_URL_FORMS}"
        )
    if backend == "sqlite" and not url.database:
        raise ConfigError("DATABASE_URL for SQLite needs a file path: sqlite:////PATH/FILE")
    if backend != "sqlite" and not (url.host and url.database):
        raise ConfigError(f"DATABASE_URL needs a host and a database name: {DATABASE_URL_FORMS}")
    return url


def _one_of(name: str, raw: str | None, choices: tuple[str, ...], default: str) -> str:
    """`raw` as one of `choices`, whatever its case; `default` when unset."""
    if raw is None:
        return default
    chosen = {choice.lower(): choice for choice in choices}.get(str(raw).strip().lower())
    if chosen is None:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return chosen


def parse_log_level(raw: str | None) -> str:
    return _one_of("LOG_LEVEL", raw, LOG_LEVELS, DEFAULT_LOG_LEVEL)


def parse_log_format(raw: str | None, default: str = DEFAULT_LOG_FORMAT) -> str:
    return _one_of("LOG_FORMAT", raw, LOG_FORMATS, default)


def parse_metrics_port(raw: str | int | None) -> int:
    if raw is None:
        return DEFAULT_METRICS_PORT
    text = str(raw).strip()
    port = int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else -1
    if isinstance(raw, bool) or not 0 <= port <= 65535:
        raise ConfigError(
            f"METRICS_PORT must be a port from 1 to 65535, or 0 for no metrics, got {raw!r}"
        )
    return port


def prepare_data_dir(path: str | os.PathLike[str]) -> Path:
    """Create the data folder if needed and prove we can write to it.

    Checking up front turns a read-only volume or a wrongly owned bind mount into one
    clear startup error instead of a 500 on the first write.
    """
    data_dir = Path(path)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # A real write, not os.access(): root passes access checks on read-only mounts.
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as e:
        raise ConfigError(f"DATA_DIR {str(data_dir)!r} is not a writable folder: {e}") from e
    return data_dir


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, object]) -> dict:
    """Merge environment and overrides, then validate.

    An empty variable counts as unset, because `KEY=` in a .env file is how people
    usually "clear" a setting.
    """
    raw: dict[str, object] = {k: environ[k] for k in ENV_SETTINGS if environ.get(k)}
    raw.update({k: v for k, v in overrides.items() if k in ENV_SETTINGS})
    return {
        "DATA_DIR": raw.get("DATA_DIR"),
        "DATABASE_URL": database_url(raw.get("DATABASE_URL")),
        "MAX_BODY_BYTES": parse_max_body_bytes(raw.get("MAX_BODY_BYTES")),
        "LOG_LEVEL": parse_log_level(raw.get("LOG_LEVEL")),
        "LOG_FORMAT": parse_log_format(raw.get("LOG_FORMAT")),
        "METRICS_PORT": parse_metrics_port(raw.get("METRICS_PORT")),
    }
