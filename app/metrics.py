"""Prometheus metrics, in the text format, on a port of their own (METRICS_PORT; 0: none), never
on the app's: a /metrics there would be on the internet.

    berth_http_requests_total{method, route, status}    requests the app answered
    berth_http_request_duration_seconds{method, route}  the time it took (histogram)
    berth_http_requests_in_flight                        requests it is answering now
    berth_database_errors_total{error}                   errors raised by the database driver
    berth_build_info{version, commit, python}            1, for the build that runs

`route` is the URL rule (`/api/notes/<int:note_id>`), never the path, so that ids do not grow
the label set; `unmatched` for a 404 or 405; methods other than METHODS count as `other`.

Under gunicorn the numbers add up over its workers: prometheus_client's multiprocess mode keeps
each process's values in files in PROMETHEUS_MULTIPROC_DIR (set by prod/gunicorn.conf.py before
this module is imported), and the master serves their sum (prod/startup.py). The dev server and
the tests: one process, values in memory.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterable

from flask import Flask
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext

from .db import get_engine

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# From 1 ms (a read of a small table) to 10 s (the database's read timeout).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Each name written whole (no namespace=): scripts/rename makes `berth_` a valid prefix.
REQUESTS = Counter(
    "berth_http_requests",
    "Requests the app answered.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "berth_http_request_duration_seconds",
    "Time the app took to answer a request.",
    ["method", "route"],
    buckets=BUCKETS,
)
IN_FLIGHT = Gauge(
    "berth_http_requests_in_flight",
    "Requests the app is answering now.",
    multiprocess_mode="livesum",
)
DATABASE_ERRORS = Counter(
    "berth_database_errors",
    "Errors raised by the database driver (connections and statements).",
    ["error"],
)
BUILD_INFO = Gauge(
    "berth_build_info",
    "The build that runs: always 1.",
    ["version", "commit", "python"],
    multiprocess_mode="max",
)


def build_labels(version: str) -> dict[str, str]:
    return {
        "version": version,
        # The image's GIT_COMMIT build argument (make prod-build passes it).
        "commit": os.environ.get("GIT_COMMIT") or "unknown",
        "python": platform.python_version(),
    }


class Middleware:
    """WSGI, right around Flask's app: counts and times each request by its URL rule.

    Each label set's two children (the counter's, the histogram's) are looked up once and kept:
    `labels()` converts and checks its values and takes the metric's lock at every call: 2.6 of
    the middleware's 11.6 µs per request in prod's multiprocess mode (tools/bench/percall.py).
    The label sets are few (METHODS, the app's rules, the statuses it answers)."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def children_of(self, method: str, route: str, status: str) -> tuple[Counter, Histogram]:
        key = (method, route, status)
        found = self.children.get(key)
        if found is None:
            # Two threads may both get here first: labels() gives both the same children.
            found = self.children[key] = (
                REQUESTS.labels(method, route, status),
                DURATION.labels(method, route),
            )
        return found

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method not in METHODS:
            method = "other"
        answer = ["500", UNMATCHED]  # status and route; an app that raises answered nothing

        def capture(status: str, headers: list, exc_info=None):
            # Flask still has the request here; it is gone once the app returns.
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            answer[:] = [status.split(" ", 1)[0], rule.rule if rule else UNMATCHED]
            return start_response(status, headers, exc_info)

        IN_FLIGHT.inc()
        start = time.perf_counter()
        try:
            return self.app(environ, capture)
        finally:
            elapsed = time.perf_counter() - start
            IN_FLIGHT.dec()
            requests, duration = self.children_of(method, answer[1], answer[0])
            requests.inc()
            duration.observe(elapsed)


def count_database_errors(context: ExceptionContext) -> None:
    # A pre-ping that finds a connection dropped is routine: the pool replaces it.
    if not context.is_pre_ping:
        DATABASE_ERRORS.labels(type(context.original_exception).__name__).inc()


def init_app(app: Flask) -> None:
    BUILD_INFO.labels(**build_labels(app.config["VERSION"])).set(1)
    event.listen(get_engine(app), "handle_error", count_database_errors)
    app.wsgi_app = Middleware(app.wsgi_app)


def serve(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - a container's port
    """The metrics on `port`, all paths, from a daemon thread of this process: the sum over
    the multiprocess folder's files where there is one (gunicorn's master), else this
    process's own. Raises OSError when the port cannot be bound."""
    registry = REGISTRY
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr, registry)
