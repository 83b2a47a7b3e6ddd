"""Settings read from environment variables, so one image runs anywhere (12-factor). Each is
read and checked the one way every server of this project reads its settings (``setting``)."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from setting import Choice, Number, SettingError, port

if TYPE_CHECKING:
    from sqlalchemy import URL

MAX_BODY_BYTES = Number("MAX_BODY_BYTES", 64 * 1024, "a size in bytes", low=1)
# DATA_DIR when unset: the project's instance/ folder (Flask's convention; gitignored), for the
# app and for `python -m app.migrate` alike, whatever the current directory.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "instance"
LOG_LEVEL = Choice(
    "LOG_LEVEL", "INFO", "a log level", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
# json: one JSON object per line (prod's default, prod/settings.py); text: for people to read.
LOG_FORMAT = Choice("LOG_FORMAT", "text", "a log format", ("json", "text"))
# The port of the Prometheus metrics, apart from the app's; 0 turns the metrics off.
METRICS_PORT = Number("METRICS_PORT", 9000, "a port, or 0 for no metrics", 0, 65535)
# None: the server's own default (3306).
DATABASE_PORT = port("DATABASE_PORT", None)
# The threads one app process may serve requests in (prod's GUNICORN_THREADS at most): a
# connection of its own for each, under gevent (app/engine.py).
MAX_APP_THREADS = 256

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
# The dev stack's database service: a host name, used only when no DATABASE_* setting names a
# database and the name resolves, that is when the service runs in the same compose project
# (the db profile, whether COMPOSE_PROFILES=db or --profile db switched it on). The app then
# uses the MariaDB server there as the official image's settings describe it: MARIADB_USER,
# MARIADB_DATABASE, and the password in the file MARIADB_PASSWORD_FILE names. Else: SQLite.
SERVICE_SETTINGS = ("DATABASE_SERVICE", "MARIADB_USER", "MARIADB_DATABASE", "MARIADB_PASSWORD_FILE")
# The environment variables the app itself reads; the rest of .env.example belongs to
# gunicorn, compose and the Dockerfile.
ENV_SETTINGS = (
    "DATA_DIR",
    *DATABASE_SETTINGS,
    *SERVICE_SETTINGS,
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "METRICS_PORT",
)


# A setting the app cannot start with (the one error of ``setting``, by the app's name for it).
ConfigError = SettingError


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


def parse_host(raw: str, name: str = "DATABASE_HOST") -> str:
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
            f"{name} must be a host name or an IP address, without a scheme, port or "
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
    return URL.create(
        SERVER_DRIVER,
        username=str(raw["DATABASE_USER"]),
        host=parse_host(str(raw["DATABASE_HOST"])),
        port=DATABASE_PORT.read(raw.get("DATABASE_PORT")),
        database=str(raw["DATABASE_NAME"]),
    )


def resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def service_url(raw: Mapping[str, object]) -> URL | None:
    """The dev stack's database service (SERVICE_SETTINGS), if it runs; else None: SQLite."""
    from sqlalchemy import URL

    host = raw.get("DATABASE_SERVICE")
    if host is None or not resolves(parse_host(str(host), "DATABASE_SERVICE")):
        return None
    for name in ("MARIADB_USER", "MARIADB_DATABASE", "MARIADB_PASSWORD_FILE"):
        if raw.get(name) is None:
            raise ConfigError(f"{name} is required with DATABASE_SERVICE")
    password = read_setting_file("MARIADB_PASSWORD_FILE", str(raw["MARIADB_PASSWORD_FILE"]))
    return URL.create(
        SERVER_DRIVER,
        username=str(raw["MARIADB_USER"]),
        password=password,
        host=str(host).strip(),
        database=str(raw["MARIADB_DATABASE"]),
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
        return service_url(raw)
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
        names = (*DATABASE_SETTINGS, *SERVICE_SETTINGS)
        raw = {k: v for k, v in raw.items() if k not in names}
    raw.update(given)
    return {
        "DATA_DIR": raw.get("DATA_DIR"),
        "DATABASE_URL": database_settings(raw),
        "MAX_BODY_BYTES": MAX_BODY_BYTES.read(raw.get("MAX_BODY_BYTES")),
        "LOG_LEVEL": LOG_LEVEL.read(raw.get("LOG_LEVEL")),
        "LOG_FORMAT": LOG_FORMAT.read(raw.get("LOG_FORMAT")),
        "METRICS_PORT": METRICS_PORT.read(raw.get("METRICS_PORT")),
    }
