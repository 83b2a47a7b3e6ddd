"""gunicorn's logger class for the prod server: its error log and its access log in LOG_FORMAT.

json (prod's default): both on stdout as JSON lines (app/logs.py), with the request's id, and
one access line per request with its fields:

    {"level": "INFO", "logger": "gunicorn.access", "pid": 8, "message": "GET /api/notes 200",
     "method": "GET", "path": "/api/notes?limit", "status": 200, "duration_ms": 1.92,
     "bytes": 713, "remote": "10.0.0.7", "request_id": "...", "time": "..."}

`path` keeps the query's parameter names, not their values (tokens, personal data). text:
gunicorn's own line formats, the access line ending in the request id.
"""

from __future__ import annotations

import logging
import os

from gunicorn import glogging

from app.logs import json_formatter, json_handler
from app.request_id import LogFilter

from .settings import log_format

# gunicorn's default access line, then the response's request id.
TEXT_ACCESS_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
)


def path_without_values(environ: dict, req: object) -> str:
    # A request gunicorn refused has an environ without them: its parsed request has them.
    path = environ.get("PATH_INFO") or getattr(req, "path", None) or ""
    query = environ.get("QUERY_STRING") or getattr(req, "query", None) or ""
    if query:
        path += "?" + "&".join(part.split("=", 1)[0] for part in query.split("&") if part)
    return path


class Logger(glogging.Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.json = log_format(os.environ) == "json"
        if not self.json:
            return
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if type(handler) is not logging.StreamHandler:  # a log file, syslog
                    handler.setFormatter(json_formatter())
                    handler.addFilter(LogFilter())
                    continue
                # Its stderr and stdout handlers become JSON handlers on stdout, marked as
                # gunicorn's, so that its next setup (on SIGHUP) replaces them again.
                log.removeHandler(handler)
                replacement = json_handler()
                replacement._gunicorn = True  # type: ignore[attr-defined]
                log.addHandler(replacement)

    def access(self, resp, req, environ: dict, request_time) -> None:
        if not self.json:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = int(status.split(None, 1)[0])
        method = environ.get("REQUEST_METHOD") or getattr(req, "method", None)
        path = path_without_values(environ, req)
        fields = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "bytes": getattr(resp, "sent", None),
            "remote": environ.get("REMOTE_ADDR"),
        }
        self.access_log.info("%s %s %s", method, path, status, extra=fields)
