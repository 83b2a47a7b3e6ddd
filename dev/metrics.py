"""The app's Prometheus metrics in dev: the same ones as in prod (app/metrics.py), counted by the
one app process and served from it on METRICS_PORT, apart from the app's port as in prod. Each
reload counts afresh: the next app process binds the port once the one before, which may still
be finishing its requests, has let go of it.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable

from dev import say

BIND_WITHIN = 5.0  # seconds: longer than the one before takes to finish its requests and exit


def serve(app: Callable) -> None:
    """Serve the metrics `app` counts, if it is an app from create_app with them on; from a
    thread, so that waiting for the port never holds up the app."""
    # Not for the error page of an app that failed to load, nor an app of another factory.
    port = getattr(app, "config", {}).get("METRICS_PORT")
    if not port:
        return
    threading.Thread(target=_bind, args=(port,), name="berth-metrics", daemon=True).start()


def _bind(port: int) -> None:
    from app import metrics

    deadline = time.monotonic() + BIND_WITHIN
    while True:
        try:
            metrics.serve(port)
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                say(f"metrics not served on port {port}: {exc}")
                return
        time.sleep(0.05)
