"""Request ids: one per request, in its response's X-Request-ID and on every log line written
while it runs.

A client's or a proxy's X-Request-ID is kept when it is sane (at most MAX_LENGTH characters from
a small set: letters, digits and `-_.:=+/@`); anything else, a newline or a control character
meant to forge a log line, a 10 KB value, is replaced by a new id and never logged as given.

The id lives in a context variable: each request runs in its own context (a thread of the dev
server; in prod, a copy of its connection's greenlet context taken into a worker thread, see
prod/worker.py), so a log line written anywhere in that request finds it (`LogFilter`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from flask import Flask

HEADER = "X-Request-ID"
ENVIRON_KEY = "berth.request_id"  # the id a server layer already gave this request
MAX_LENGTH = 128
_SANE = re.compile(rf"[A-Za-z0-9\-_.:=+/@]{{1,{MAX_LENGTH}}}")

current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new() -> str:
    return uuid.uuid4().hex


def from_header(value: str | None) -> str:
    """The id for a request whose X-Request-ID header is `value` (None: no header)."""
    if value is not None and _SANE.fullmatch(value):
        return value
    return new()


def of_environ(environ: dict) -> str:
    """The request's id: the one a server layer gave it, else from its header; stored in the
    environ so that every layer gives the same."""
    request_id = environ.get(ENVIRON_KEY)
    if request_id is None:
        request_id = environ[ENVIRON_KEY] = from_header(environ.get("HTTP_X_REQUEST_ID"))
    return request_id


class Middleware:
    """WSGI: the request's id in the context while the app runs, and on the response."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = of_environ(environ)

        def with_id(status: str, headers: list, exc_info=None):
            return start_response(status, [*headers, (HEADER, request_id)], exc_info)

        token = current.set(request_id)
        try:
            return self.app(environ, with_id)
        finally:
            current.reset(token)


def init_app(app: Flask) -> None:
    """Outermost: every response gets the id, whatever answered it."""
    app.wsgi_app = Middleware(app.wsgi_app)


class LogFilter(logging.Filter):
    """Puts the running request's id on each record a handler formats (`request_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True
