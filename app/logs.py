"""The log lines' format, LOG_FORMAT: `text` leaves logging as Flask sets it up (its handler
on stderr, for people to read); `json` writes every logger's lines (the app's, the libraries',
and in prod gunicorn's, see prod/logs.py) as one JSON object per line on stdout, for a log
pipeline to parse:

    {"level": "INFO", "logger": "app", "pid": 7, "message": "...", "request_id": "...",
     "time": "2025-01-31T12:00:00.123456+00:00"}

An exception is one line too, its traceback in the field "traceback". Lines written while a
request runs carry its id (app/request_id.py); prod's access lines add the request's fields.
The formatter is python-json-logger's: a logging.Formatter, so gunicorn's loggers, Flask's and
the standard library's take it as they are; structlog would bring its own logging API and still
need this bridge for them.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

from . import request_id

# Every line's fields, renamed below; records add their own (request_id, an access line's).
FIELDS = "%(levelname)s %(name)s %(process)d %(message)s"
RENAMED = {"levelname": "level", "name": "logger", "process": "pid", "exc_info": "traceback"}
# Marks the handler this module installs, so that a second app in the process replaces it.
MARK = "_berth_json"


def json_formatter() -> logging.Formatter:
    # timestamp: the record's time as ISO 8601 in UTC.
    return JsonFormatter(FIELDS, rename_fields=RENAMED, timestamp="time")


def json_handler() -> logging.Handler:
    """A handler writing JSON lines to stdout, with the running request's id."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    handler.addFilter(request_id.LogFilter())
    return handler


def use_format(log_format: str) -> None:
    """Route every logger's lines through one JSON handler on the root logger (json), or take
    it away again (text)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, MARK, False)]:
        root.removeHandler(handler)
    if log_format == "json":
        handler = json_handler()
        setattr(handler, MARK, True)
        root.addHandler(handler)


def init_app(app: Flask) -> None:
    """Before anything logs through app.logger: Flask gives it a text handler of its own only
    when no handler above it would take its lines."""
    use_format(app.config["LOG_FORMAT"])
    if app.config["LOG_FORMAT"] == "json":
        # One created by an earlier app in this process (it belongs to the shared logger).
        logging.getLogger(app.name).removeHandler(default_handler)
