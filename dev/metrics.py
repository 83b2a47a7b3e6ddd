"""The app's Prometheus metrics in dev: the same ones as in prod (app/metrics.py), counted by the
one app process and served from it on METRICS_PORT, apart from the app's port as in prod. Each
reload counts afresh: the next app process binds the port once the last one has exited.
"""

from __future__ import annotations

from collections.abc import Callable

from dev import say


def serve(app: Callable) -> None:
    """Serve the metrics `app` counts, if it is an app from create_app with them on."""
    # Not for the error page of an app that failed to load, nor an app of another factory.
    port = getattr(app, "config", {}).get("METRICS_PORT")
    if not port:
        return
    from app import metrics

    try:
        metrics.serve(port)
    except OSError as exc:
        say(f"metrics not served on port {port}: {exc}")
