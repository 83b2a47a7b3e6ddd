"""Settings read from environment variables, so one image runs anywhere (12-factor)."""

from __future__ import annotations

import ipaddress
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

# The database server, given either as one URL or as its parts (which take any characters as
# they are). The password may also come apart from either form; URL and password can each be
# read from a file (NAME_FILE), as the official database images read theirs.
DATABASE_PARTS = ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_USER", "DATABASE_NAME")
DATABASE_SETTINGS = (
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    *DATABASE_PARTS,
    "DATABASE_PASSWORD",
    "DATABASE_PASSWORD_FILE",
)
# The environment variables the app itself reads; the rest of .env.example belongs to
# gunicorn, compose and the Dockerfile.
ENV_SETTINGS = (
    "DATA_DIR",
    *DATABASE_SETTINGS,
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
SERVER_DRIVER = "mysql+pymysql"
DATABASE_URL_FORMS = "sqlite:////PATH/FILE or mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE"
# What most often breaks a URL that compose or a shell pasted together.
URL_HINT = (
    "characters such as @ : / % in the password must be percent-encoded, or set the password "
    "apart (DATABASE_PASSWORD or DATABASE_PASSWORD_FILE)"
)


def read_setting_file(name: str, path: str | os.PathLike[str]) -> str:
    """The value a NAME_FILE setting points to: the file's UTF-8 text without its trailing
    newlines, as the official images read theirs (`$(< file)`). Errors name the setting and
    the path, never the content."""
    where = f"{name} {str(path)!r}"
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{where} cannot be read: {e.strerror or type(e).__name__}") from None
    try:
        text = data.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text") from None
    if not text:
        raise ConfigError(f"{where} is empty")
    return text


def _value_or_file(raw: Mapping[str, object], name: str) -> tuple[object, str]:
    """A setting given as NAME or as NAME_FILE, never both: (its value or None, where it came
    from, for messages)."""
    value, path = raw.get(name), raw.get(f"{name}_FILE")
    if value is not None and path is not None:
        raise ConfigError(f"{name} and {name}_FILE are both set; set one of them")
    if path is None:
        return value, name
    return read_setting_file(f"{name}_FILE", path), f"{name} (from {name}_FILE {str(path)!r})"


def database_url(raw: str | URL | None, source: str = "DATABASE_URL") -> URL | None:
    """A database URL parsed and checked; None when unset (SQLite in DATA_DIR). The value is
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
            f"{source} is not a database URL; expected {DATABASE_URL_FORMS}; {URL_HINT}"
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend not in DRIVERS or driver not in DRIVERS[backend]:
        raise ConfigError(
            f"{source} names {url.drivername!r}, which this app does not support; expected "
            f"{DATABASE_URL_FORMS}"
        )
    if backend == "sqlite" and not url.database:
        raise ConfigError(f"{source} for SQLite needs a file path: sqlite:////PATH/FILE")
    if backend != "sqlite" and not (url.host and url.database):
        raise ConfigError(f"{source} needs a host and a database name: {DATABASE_URL_FORMS}")
    if "@" in (url.host or ""):
        # An unencoded @ in the password: the rest of it was taken for the host.
        raise ConfigError(f"{source} has an @ in its host name; {URL_HINT}")
    return url


def parse_port(raw: str | int) -> int:
    text = str(raw).strip()
    port = int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 0
    if not 1 <= port <= 65535:
        raise ConfigError(f"DATABASE_PORT must be a port number from 1 to 65535, got {raw!r}")
    return port


def parse_host(raw: str) -> str:
    host = str(raw).strip()
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            host = ""
        else:
            host = host.strip("[]")
    if not host or any(c in host for c in "/@?# \t"):
        # Not echoed: a URL put here by mistake may hold a password.
        raise ConfigError(
            "DATABASE_HOST must be a host name or an IP address, without a scheme, port or "
            "path (the port is DATABASE_PORT; a whole URL goes in DATABASE_URL)"
        )
    return host


def server_url(raw: Mapping[str, object]) -> URL:
    """The URL of a database server given as parts: built, not parsed, so every character of
    the user and the database name stands for itself."""
    from sqlalchemy import URL

    for name in ("DATABASE_USER", "DATABASE_NAME"):
        if raw.get(name) is None:
            raise ConfigError(f"{name} is required with DATABASE_HOST")
    port = raw.get("DATABASE_PORT")
    return URL.create(
        SERVER_DRIVER,
        username=str(raw["DATABASE_USER"]),
        host=parse_host(str(raw["DATABASE_HOST"])),
        port=None if port is None else parse_port(port),  # None: the server's default, 3306
        database=str(raw["DATABASE_NAME"]),
    )


def database_settings(raw: Mapping[str, object]) -> URL | None:
    """The database from its settings: a URL, the parts, or neither (SQLite in DATA_DIR); the
    password in the URL or apart. Each conflict is one line naming both settings."""
    url_names = [n for n in ("DATABASE_URL", "DATABASE_URL_FILE") if raw.get(n) is not None]
    parts = [n for n in DATABASE_PARTS if raw.get(n) is not None]
    apart = [n for n in ("DATABASE_PASSWORD", "DATABASE_PASSWORD_FILE") if raw.get(n) is not None]
    if url_names and parts:
        raise ConfigError(
            f"{url_names[0]} and {parts[0]} are both set: give the database server as one URL "
            f"or as its parts ({', '.join(DATABASE_PARTS)}), not both"
        )
    if parts and raw.get("DATABASE_HOST") is None:
        raise ConfigError(f"{parts[0]} is set but DATABASE_HOST is not: a server needs its host")
    if not (url_names or parts):
        if apart:
            raise ConfigError(
                f"{apart[0]} is set, but no database server: set DATABASE_HOST (with "
                "DATABASE_USER and DATABASE_NAME) or DATABASE_URL"
            )
        return None
    if url_names:
        value, source = _value_or_file(raw, "DATABASE_URL")
        url = database_url(value, source)
    else:
        url, source = server_url(raw), "DATABASE_HOST"
    password, password_source = _value_or_file(raw, "DATABASE_PASSWORD")
    if password is None:
        return url
    if url.get_backend_name() == "sqlite":
        raise ConfigError(f"{password_source} is set, but {source} is SQLite: no password")
    if url.password is not None:
        raise ConfigError(
            f"the password is given twice, in {source} and in {password_source}; keep one"
        )
    return url.set(password=str(password))


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
    usually "clear" a setting. An override of any database setting replaces all of the
    environment's: it names the whole database.
    """
    raw: dict[str, object] = {k: environ[k] for k in ENV_SETTINGS if environ.get(k)}
    given = {k: v for k, v in overrides.items() if k in ENV_SETTINGS}
    if any(k in DATABASE_SETTINGS for k in given):
        raw = {k: v for k, v in raw.items() if k not in DATABASE_SETTINGS}
    raw.update(given)
    return {
        "DATA_DIR": raw.get("DATA_DIR"),
        "DATABASE_URL": database_settings(raw),
        "MAX_BODY_BYTES": parse_max_body_bytes(raw.get("MAX_BODY_BYTES")),
        "LOG_LEVEL": parse_log_level(raw.get("LOG_LEVEL")),
        "LOG_FORMAT": parse_log_format(raw.get("LOG_FORMAT")),
        "METRICS_PORT": parse_metrics_port(raw.get("METRICS_PORT")),
    }
