"""Settings read from environment variables, so one image runs anywhere (12-factor)."""

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# The environment variables the app itself reads; the rest of .env.example belongs to
# gunicorn, compose and the Dockerfile.
ENV_SETTINGS = ("DATA_DIR", "MAX_BODY_BYTES", "LOG_LEVEL")


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


def parse_log_level(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_LOG_LEVEL
    level = str(raw).strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level


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
        "MAX_BODY_BYTES": parse_max_body_bytes(raw.get("MAX_BODY_BYTES")),
        "LOG_LEVEL": parse_log_level(raw.get("LOG_LEVEL")),
    }
