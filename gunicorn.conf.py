"""Gunicorn settings for the prod image; every knob comes from the environment.

Started by `python -m prod` (the image's CMD), which has checked every setting already; the
same checks run here for anyone who starts gunicorn directly. gevent workers: a connection
costs a greenlet, not a thread, so slow clients cannot take the workers away from the others
(docs/benchmarks.md has the figures), and 2 workers keep both cores of a small container busy.
"""

import os

from app.config import ConfigError, parse_log_level
from prod.settings import server_settings
from prod.startup import on_starting, post_fork, worker_exit  # noqa: F401 - gunicorn hooks

try:
    _settings = server_settings(os.environ)
    _log_level = parse_log_level(os.environ.get("LOG_LEVEL") or None)
except ConfigError as e:
    # SystemExit, not the error: gunicorn prints any Exception here with its traceback.
    raise SystemExit(f"berth: cannot start: {e}") from None

wsgi_app = "prod.startup:worker_app()"
bind = [f"0.0.0.0:{_settings['PORT']}"]
workers = _settings["WEB_CONCURRENCY"]
worker_class = "prod.worker.Worker"
worker_connections = _settings["GUNICORN_WORKER_CONNECTIONS"]
timeout = _settings["GUNICORN_TIMEOUT"]
graceful_timeout = _settings["GUNICORN_GRACEFUL_TIMEOUT"]
# Seconds an idle kept-alive connection stays open; with gevent workers also the time a client
# has to send a request's headers.
keepalive = 5

# Heartbeat files in memory: /dev/shm is a tmpfs even with a read-only root file system.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a private tmpfs per container)

# No control socket: it would live in the user's home, and prod has neither a home nor a
# writable root file system; signals (HUP, TTIN, TERM) still control gunicorn.
control_socket_disable = True

# Access and error logs to stdout/stderr, where `docker logs` reads them.
accesslog = "-"
errorlog = "-"
loglevel = _log_level.lower()
