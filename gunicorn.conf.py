"""Gunicorn settings for the prod image; every knob comes from the environment.

Defaults suit a small container (2 CPUs): a few workers with threads, so a slow request does
not block the others, and a short graceful timeout so `docker stop` returns quickly.
"""

import os


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name} must be a whole number, got {raw!r}") from None
    if value < 0 or (value == 0 and name != "GUNICORN_GRACEFUL_TIMEOUT"):
        raise SystemExit(f"gunicorn.conf.py: {name} must be positive, got {value}")
    return value


wsgi_app = "app:create_app()"
bind = [f"0.0.0.0:{_int_env('PORT', 8000)}"]
workers = _int_env("WEB_CONCURRENCY", 2)
threads = _int_env("GUNICORN_THREADS", 4)
worker_class = "gthread"
timeout = _int_env("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 5)
keepalive = 5

# Heartbeat files in memory: /dev/shm is a tmpfs even with a read-only root file system.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a private tmpfs per container)

# No control socket: it would live in the user's home, and prod has neither a home nor a
# writable root file system; signals (HUP, TTIN, TERM) still control gunicorn.
control_socket_disable = True

# Access and error logs to stdout/stderr, where `docker logs` reads them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
