"""Gunicorn settings for the prod image; every knob comes from the environment.

Started by `python -m prod` (the image's CMD), which has checked every setting already; the
same checks run here for anyone who starts gunicorn directly. Workers (prod/worker.py) read
each request whole in a greenlet, however slowly it comes, and only then run the app in one of
their threads: slow clients cannot take the threads away from the others (docs/benchmarks.md
has the figures). 2 workers x 4 threads suit a small container (2 CPUs).
"""

import os

from app.config import LOG_LEVEL, ConfigError
from prod.logs import TEXT_ACCESS_FORMAT
from prod.settings import METRICS_DIR, log_format, metrics_port, server_settings
from prod.startup import (  # noqa: F401 - gunicorn hooks
    child_exit,
    on_starting,
    post_fork,
    when_ready,
    worker_exit,
)

try:
    _settings = server_settings(os.environ)
    _log_level = LOG_LEVEL.get(os.environ)
    log_format(os.environ)
    _metrics_port = metrics_port(os.environ)
except ConfigError as e:
    # SystemExit, not the error: gunicorn prints any Exception here with its traceback.
    raise SystemExit(f"berth: cannot start: {e}") from None

# Metrics: prometheus_client's multiprocess mode, chosen by this variable when it is imported
# (by the app, in on_starting: after this line). The hooks in prod/startup.py keep the folder.
if _metrics_port:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

wsgi_app = "prod.startup:worker_app()"
bind = [f"0.0.0.0:{_settings['PORT']}"]
workers = _settings["WEB_CONCURRENCY"]
worker_class = "prod.worker.Worker"
threads = _settings["GUNICORN_THREADS"]
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

# Access and error logs to stdout/stderr, where `docker logs` reads them, in LOG_FORMAT
# (prod/logs.py: JSON lines on stdout by default).
accesslog = "-"
errorlog = "-"
loglevel = _log_level.lower()
logger_class = "prod.logs.Logger"
access_log_format = TEXT_ACCESS_FORMAT
