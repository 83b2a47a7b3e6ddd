"""The process that serves the app: Werkzeug's server on the dev server's socket, and Werkzeug's
file watcher, which ends this process with exit code 3 on a change so that the dev server
(``dev.supervisor``) lets the next one serve.

Each starts as a standby: it imports the libraries, then waits for the dev server's word before
it imports the app, so that a reload only costs importing the app itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from dev import exit_now, metrics, say
from dev.settings import Settings

APP_PACKAGE = "app"
# Folders whose contents never trigger a reload.
EXCLUDED_DIRS = (
    ".venv",
    "venv",
    "node_modules",
    "tests",
    "__pycache__",
    ".git",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
)
DRAIN_TIMEOUT = 1.0  # seconds requests in progress get to finish before a reload


def serve(settings: Settings, root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    debugger = sys.modules.get("dev.debugger")  # loaded by pydevd's preimport, if debugging
    if debugger is not None:
        debugger.wait_for_prewarm()
    _exit_when_orphaned()
    import flask  # noqa: F401 - for the app, before the wait
    from werkzeug.serving import make_server

    go = os.environ.pop("BERTH_STANDBY_FD", None)
    if go is not None and not os.read(int(go), 1):
        exit_now(0)  # the dev server is gone
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app, server = None, None
    try:
        with watcher(settings, root) as watching:  # before the import: see watcher()
            app = InFlight(load_app(settings.flask_debug))
            metrics.serve(app.app)
            server = make_server(
                "0.0.0.0",  # noqa: S104 - the socket is the dev server's; this only names it
                settings.port,
                app,
                threaded=True,
                fd=int(os.environ["WERKZEUG_SERVER_FD"]),
            )
            threading.Thread(target=server.serve_forever, name="berth-http", daemon=True).start()
            watching.run()  # until a change: SystemExit(3)
        code: object = 0
    except SystemExit as exc:  # 3 from the watcher on a change, 0 on SIGTERM
        code = exc.code
    finally:
        if server is not None:
            server.server_close()
    # This process's copy of the socket is closed: new connections wait in the dev server's copy.
    if app is not None:
        app.wait_idle(DRAIN_TIMEOUT)
    exit_now(code)


def watcher(settings: Settings, root: Path):
    """Werkzeug's file watcher (its reloader loop), entered before the app is imported.

    Werkzeug's own ``run_simple(use_reloader=True)`` starts watching only after the app has been
    imported, so a file saved while the import runs (an editor that truncates, then writes; a
    second save in quick succession) is never seen, and the app serves a half-written module
    until the next edit (the upstream report is in docs/debugger.md). Entered first, the watcher
    sees such a save and the next app process takes over. ``werkzeug._reloader`` is private:
    tests/unit/test_dev_watcher.py fails if a Werkzeug upgrade moves it.
    """
    from werkzeug._reloader import reloader_loops

    loop = reloader_loops["stat" if settings.reload_poll else "watchdog"]
    return loop(
        extra_files=watched_files(root),
        exclude_patterns=excluded_patterns(root),
        interval=settings.reload_interval,
    )


def load_app(debug: bool) -> Callable:
    """Import and build the app; never raise (a broken edit must not stop the watcher)."""
    try:
        from app import create_app

        app = create_app()
        app.debug = debug
        return app
    except (Exception, SystemExit) as exc:
        traceback.print_exc()
        summary = "".join(traceback.format_exception_only(exc)).strip()
        say(f"app failed to load: {summary}; waiting for a change to reload")
        return _error_app(summary)


def _error_app(summary: str) -> Callable:
    # The app's own error shape (app/errors.py), so API clients see a familiar 500.
    error = {"status": 500, "message": "app failed to load (see the dev server log)"}
    body = json.dumps({"error": {**error, "detail": summary}}).encode()

    def error_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "application/json")])
        return [body]

    return error_app


class InFlight:
    """WSGI middleware counting requests in progress, so that a reload lets them finish."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.count = 0
        self.idle = threading.Condition()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with self.idle:
            self.count += 1
        try:
            body = self.app(environ, start_response)
            try:
                yield from body
            finally:
                if hasattr(body, "close"):
                    body.close()
        finally:
            with self.idle:
                self.count -= 1
                self.idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.count == 0, timeout)


def _exit_when_orphaned() -> None:
    """End this process if the dev server dies without ending it (it would hold the port)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        exit_now(1)

    threading.Thread(target=watch, name="berth-orphan-watch", daemon=True).start()


def watched_files(root: Path) -> list[str]:
    """Besides the imported modules: the non-Python files under app/, .env, and the root
    itself (watched for *.py), so that fixing a module that failed to import still reloads."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root / APP_PACKAGE):
        dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS]
        files += [os.path.join(dirpath, f) for f in filenames if not f.endswith((".py", ".pyc"))]
    if (root / ".env").is_file():
        files.append(str(root / ".env"))
    return [*files, str(root)]


def excluded_patterns(root: Path) -> list[str]:
    patterns = []
    for name in EXCLUDED_DIRS:
        patterns += [f"*/{name}", f"*/{name}/*"]
    # Werkzeug watches every sys.path entry, the stdlib and site-packages included: thousands
    # of inotify watches set up in every app process. Installed packages do not change here.
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path and not str(root).startswith(path):
            patterns += [path, f"{path}/*"]
    patterns += [entry for entry in sys.path if entry.endswith(".zip")]
    return list(dict.fromkeys(patterns))
