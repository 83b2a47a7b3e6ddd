"""The dev server's settings, read once from the environment and checked.

A typo in a setting (``DEBUGPY=ture``, ``RELOAD_INTERVAL=fast``) stops the server with one line
that names the setting, the value and what is accepted, instead of silently meaning something.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# What the dev server reads (.env.example documents each one).
SETTINGS = (
    "PORT",
    "DEBUGPY",
    "DEBUGPY_PORT",
    "DEBUGPY_WAIT",
    "RELOAD_POLL",
    "RELOAD_INTERVAL",
    "FLASK_DEBUG",
)
FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True}
FLAG_VALUES |= {"0": False, "false": False, "no": False, "off": False}


class SettingError(ValueError):
    """A setting the dev server cannot start with; the message is the whole story."""


@dataclass(frozen=True)
class Settings:
    port: int
    debugpy: bool
    debugpy_port: int
    debugpy_wait: bool
    reload_poll: bool
    reload_interval: float
    flask_debug: bool


def _raw(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None  # `KEY=` in .env means "unset"


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _raw(environ, name)
    if raw is None:
        return default
    if raw.lower() not in FLAG_VALUES:
        raise SettingError(f"{name}={raw!r} is not a flag: use 1 or 0 (true/false, yes/no, on/off)")
    return FLAG_VALUES[raw.lower()]


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = _raw(environ, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise SettingError(f"{name}={raw!r} is not a port: use a number from 1 to 65535")
    return int(raw)


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = _raw(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 60:
        raise SettingError(f"{name}={raw!r} is not a time: use seconds from 0.05 to 60")
    return value


def from_environ(environ: Mapping[str, str] = os.environ) -> Settings:
    poll = _flag(environ, "RELOAD_POLL", False)
    return Settings(
        port=_port(environ, "PORT", 8000),
        debugpy=_flag(environ, "DEBUGPY", True),
        debugpy_port=_port(environ, "DEBUGPY_PORT", 5678),
        debugpy_wait=_flag(environ, "DEBUGPY_WAIT", False),
        reload_poll=poll,
        # Polling scans the tree each interval; with inotify it only paces new-folder pickup.
        reload_interval=_seconds(environ, "RELOAD_INTERVAL", 0.25 if poll else 1.0),
        flask_debug=_flag(environ, "FLASK_DEBUG", True),
    )
