"""The dev server's settings, read once from the environment and checked (``setting``).

A typo in a setting (``DEBUGPY=ture``, ``RELOAD_INTERVAL=fast``) stops the server with one line
that names the setting, the value and what is accepted, instead of silently meaning something.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from setting import Flag, Seconds, SettingError, blank, port

__all__ = ["SETTINGS", "SettingError", "Settings", "from_environ"]

PORT = port("PORT", 8000)
DEBUGPY = Flag("DEBUGPY", True)
DEBUGPY_PORT = port("DEBUGPY_PORT", 5678)
DEBUGPY_WAIT = Flag("DEBUGPY_WAIT", False)
RELOAD_POLL = Flag("RELOAD_POLL", False)
# Polling scans the tree each interval; with inotify it only paces new-folder pickup.
RELOAD_INTERVAL = Seconds("RELOAD_INTERVAL", 1.0, low=0.05, high=60)
POLL_INTERVAL = 0.25  # RELOAD_INTERVAL's default when polling
FLASK_DEBUG = Flag("FLASK_DEBUG", True)
# What the dev server reads (.env.example documents each one).
SETTINGS = tuple(
    s.name
    for s in (PORT, DEBUGPY, DEBUGPY_PORT, DEBUGPY_WAIT, RELOAD_POLL, RELOAD_INTERVAL, FLASK_DEBUG)
)


@dataclass(frozen=True)
class Settings:
    port: int
    debugpy: bool
    debugpy_port: int
    debugpy_wait: bool
    reload_poll: bool
    reload_interval: float
    flask_debug: bool


def from_environ(environ: Mapping[str, str] = os.environ) -> Settings:
    poll = RELOAD_POLL.get(environ)
    interval = RELOAD_INTERVAL.get(environ)
    if poll and blank(environ.get(RELOAD_INTERVAL.name)):
        interval = POLL_INTERVAL
    return Settings(
        port=PORT.get(environ),
        debugpy=DEBUGPY.get(environ),
        debugpy_port=DEBUGPY_PORT.get(environ),
        debugpy_wait=DEBUGPY_WAIT.get(environ),
        reload_poll=poll,
        reload_interval=interval,
        flask_debug=FLASK_DEBUG.get(environ),
    )
