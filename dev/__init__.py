"""The development server (``python -m dev.serve``), only in the dev image; see docs/debugger.md."""

from __future__ import annotations

import contextlib
import logging
import os
import sys


def say(message: str) -> None:
    """One line in the dev server's log (stderr, like Werkzeug's own)."""
    print(f" * {message}", file=sys.stderr, flush=True)


def exit_now(code: object) -> None:
    """Leave without interpreter shutdown: pydevd's atexit hook alone takes about 0.7 s (thread
    joins with timeouts), which would add to every reload and every stop."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
