"""Development server: the Flask app under Werkzeug's reloader, debuggable with debugpy.

Run it from the project root (the directory holding the ``app`` package) as a module::

    python -Xfrozen_modules=off -m dev.serve

``-m`` matters: it puts the project root on ``sys.path`` (so ``app`` and ``dev`` import) and
Werkzeug re-launches the child with exactly the same command line (``sys.orig_argv``).
``-Xfrozen_modules=off`` avoids pydevd's "frozen modules ... may make the debugger miss
breakpoints" warning; if it is missing while debugpy is on, this module re-executes itself with
it (``os.execv``: same PID, once, ~30 ms).

Environment (flags are 1/0):

``PORT`` (8000)
    HTTP port, bound on 0.0.0.0 (the container publishes it on 127.0.0.1 only).
``DEBUGPY`` (1)
    The outer (reloader) process calls ``debugpy.listen(("0.0.0.0", DEBUGPY_PORT))``; each child
    that Werkzeug starts (``WERKZEUG_RUN_MAIN=true``) gets debugpy injected by debugpy's
    subprocess support, and the adapter tells the attached editor: a ``startDebugging`` reverse
    request (clients with ``supportsStartDebuggingRequest``, such as VS Code) or a
    ``debugpyAttach`` event; the editor then opens a second connection to the same port and
    attaches to the child (see tests/support/dap.py). While an editor is attached to the outer
    process, debugpy holds each new child before it runs any code until the editor has attached
    to it too; with no editor attached, children start at once.
``DEBUGPY_PORT`` (5678)
    debugpy adapter port, bound on 0.0.0.0.
``DEBUGPY_WAIT`` (0)
    The outer process waits for an editor to attach before it binds ``PORT`` and starts the first
    child (so a healthcheck fails until then). Later children need no setting: see above.
``RELOAD_POLL`` (0)
    Use Werkzeug's "stat" polling reloader instead of watchdog (inotify), for mounts that do not
    deliver file events (some Docker Desktop / network file systems).
``RELOAD_INTERVAL`` (0.25 with polling, 1.0 with watchdog)
    Seconds between scans. With watchdog a change triggers the reload at once; the interval only
    controls how often new directories are picked up for watching.
``FLASK_DEBUG`` (1)
    Flask debug mode. Werkzeug's browser debugger stays off either way (debugpy is the debugger
    and the API speaks JSON).

Reloads: the outer process binds the port once and passes the socket to each child, so requests
made during a reload wait in the backlog instead of failing. Edits to ``*.py`` anywhere under the
root (not tests/, caches, venvs), to non-Python files under ``app/`` and to ``.env`` reload;
files created after the last (re)start only count from the next one. If the app fails to import
or build, the traceback is logged, requests get a JSON 500 and the reloader keeps watching. If a
child dies anyway (a crash, ``os._exit``), the outer process waits for the next edit and starts
again instead of exiting. On SIGTERM/SIGINT both processes are gone in well under a second.

Reload latency (file write to first response from the new code) is ~0.2 s without debugpy and
~0.35 s with debugpy and an editor attached, because: processes exit with ``os._exit`` (pydevd's
atexit hook costs ~0.7 s), the installed packages are not watched, and ``dev.tune_pydevd()``
works around a debugpy latency bug and preimports Flask while the child waits for the editor.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from dev import mark_serving, tune_pydevd

APP_PACKAGE = "app"
# Directories whose contents never trigger a reload (fnmatch patterns on absolute paths).
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


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in {"0", "false", "no", "off"}


def _number(name: str, default: float, cast: Callable[[str], float] = float) -> float:
    raw = os.environ.get(name, "").strip()
    return cast(raw) if raw else default


def _say(message: str) -> None:
    print(f" * {message}", file=sys.stderr, flush=True)


def _is_child() -> bool:
    return os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # PID 1 in a container has no default SIGTERM action: without a handler `docker stop` waits
    # for its timeout and then SIGKILLs. SystemExit unwinds Werkzeug's subprocess.call(), which
    # kills the child on its way out.
    sys.exit(0)


def _reexec_without_frozen_modules() -> None:
    """pydevd warns (and may miss stdlib breakpoints) when frozen modules are on; it tests it
    this way (pydevd_file_utils)."""
    if not os.path.realpath.__code__.co_filename.startswith("<frozen"):
        return
    argv = [sys.executable, "-Xfrozen_modules=off", *sys.orig_argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 - same interpreter, same arguments


def _extra_files(root: Path) -> list[str]:
    """Non-Python files the app reads: everything under app/ that is not code, plus .env."""
    files = []
    app_dir = root / APP_PACKAGE
    if app_dir.is_dir():
        for dirpath, dirnames, filenames in os.walk(app_dir):
            dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS]
            files += [
                os.path.join(dirpath, f) for f in filenames if not f.endswith((".py", ".pyc"))
            ]
    dotenv = root / ".env"
    if dotenv.is_file():
        files.append(str(dotenv))
    # The project root itself (a directory): watched recursively for *.py, so that fixing a
    # module that failed to import (and so is not in sys.modules) still triggers a reload.
    files.append(str(root))
    return files


def _exclude_patterns(root: Path) -> list[str]:
    patterns = []
    for name in EXCLUDED_DIRS:
        patterns += [f"*/{name}", f"*/{name}/*"]
    # Werkzeug's watchdog loop watches every sys.path entry recursively, including the stdlib and
    # site-packages: thousands of inotify watches set up again in every child, which costs reload
    # latency and inotify quota. Installed packages do not change while the container runs.
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path and not str(root).startswith(path):
            patterns += [path, f"{path}/*"]
    for entry in sys.path:
        if entry.endswith(".zip"):
            patterns.append(entry)
    return list(dict.fromkeys(patterns))


def _json_error_app(summary: str) -> Callable:
    # The app's own error shape (app/errors.py), so API clients see a familiar 500.
    error = {"status": 500, "message": "app failed to load (see the dev server log)"}
    body = json.dumps({"error": {**error, "detail": summary}})

    def error_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "application/json")])
        return [body.encode()]

    return error_app


def _load_app() -> Callable:
    """Import and build the app in the serving child; never raise (the reloader must survive)."""
    try:
        from app import create_app

        app = create_app()
        app.debug = _flag("FLASK_DEBUG", True)
        return app
    except (Exception, SystemExit) as exc:
        traceback.print_exc()
        summary = "".join(traceback.format_exception_only(exc)).strip()
        _say(f"app failed to load: {summary}; waiting for a change to reload")
        return _json_error_app(summary)


class _InFlight:
    """WSGI middleware counting requests in progress, so a reload can let them finish."""

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


def _not_loaded_here(environ: dict, start_response: Callable) -> Iterable[bytes]:
    raise RuntimeError("the outer reloader process does not serve requests")


def _exit_when_orphaned() -> None:
    """Stop a child whose reloader parent died without killing it (it holds the port)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _exit_now(code: object) -> None:
    """Leave without interpreter shutdown: pydevd's atexit hook alone costs ~0.7 s (thread joins
    with 0.5 s timeouts), which would add to every reload and to every stop."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _warn_without_bytecode() -> None:
    """Each reload re-imports Flask (and pydevd); without .pyc files that is ~4x slower."""
    cached = getattr(sys.modules["werkzeug.serving"], "__cached__", None)
    if cached and not os.path.exists(cached):
        _say(
            "warning: installed packages have no bytecode (.pyc) and it cannot be written: "
            "every reload recompiles them (install with pip, or uv --compile-bytecode)"
        )


def _snapshot(root: Path, extra_files: Iterable[str]) -> dict[str, float]:
    mtimes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    mtimes[path] = os.stat(path).st_mtime
    for path in extra_files:
        if os.path.isfile(path):
            with contextlib.suppress(OSError):
                mtimes[path] = os.stat(path).st_mtime
    return mtimes


def _wait_for_change(root: Path, extra_files: Iterable[str]) -> None:
    """After a crashed child: poll until a source file changes (ends with the process)."""
    before = _snapshot(root, extra_files)
    while _snapshot(root, extra_files) == before:
        time.sleep(0.5)


def main() -> None:
    from werkzeug.serving import run_simple

    root = Path.cwd()
    port = int(_number("PORT", 8000, int))
    use_debugpy = _flag("DEBUGPY", True)
    debugpy_port = int(_number("DEBUGPY_PORT", 5678, int))
    debugpy_wait = _flag("DEBUGPY_WAIT", False)
    poll = _flag("RELOAD_POLL", False)
    interval = _number("RELOAD_INTERVAL", 0.25 if poll else 1.0)
    reloader = "stat" if poll else "watchdog"
    child = _is_child()

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    os.environ.setdefault("FLASK_DEBUG", "1")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

    if child:
        mark_serving()
        _exit_when_orphaned()
        application = in_flight = _InFlight(_load_app())
    else:
        application = _not_loaded_here
        if use_debugpy:
            _reexec_without_frozen_modules()
            import debugpy

            debugpy.listen(("0.0.0.0", debugpy_port))  # noqa: S104 - container-internal
            tune_pydevd()
        debugger = f"debugpy on 0.0.0.0:{debugpy_port}" if use_debugpy else "debugpy off"
        if use_debugpy and debugpy_wait:
            debugger += " (waiting for a client before serving)"
        _say(
            f"berth dev server: app on http://0.0.0.0:{port}, {debugger}, "
            f"reloader {reloader} (interval {interval:g}s), root {root}"
        )
        _warn_without_bytecode()
        if use_debugpy and debugpy_wait:
            debugpy.wait_for_client()
            _say("debugger attached")

    while True:
        extra_files = _extra_files(root)
        try:
            # Child: serves and watches; exits 3 to be reloaded. Parent: binds the port, then
            # re-launches the child (passing the socket) while it exits with 3.
            run_simple(
                "0.0.0.0",  # noqa: S104 - runs in a container; compose publishes on 127.0.0.1
                port,
                application,
                use_reloader=True,
                use_debugger=False,
                threaded=True,
                reloader_type=reloader,
                reloader_interval=interval,
                extra_files=extra_files,
                exclude_patterns=_exclude_patterns(root),
            )
            code: object = 0  # KeyboardInterrupt, swallowed by Werkzeug
        except SystemExit as exc:
            code = exc.code
        if child:
            # Werkzeug closed the listening socket: new connections queue in the parent's
            # socket for the next child. Let requests in progress finish (briefly).
            in_flight.wait_idle(timeout=1.0)
            _exit_now(code)
        if code in (0, None):
            _exit_now(code)
        # The child died some other way (crash in this file, os._exit, a signal): keep the
        # container up and start again on the next edit.
        _say(f"server process exited with {code}; waiting for a file change to restart")
        _wait_for_change(root, extra_files)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exc:  # SIGTERM before the server started (e.g. in DEBUGPY_WAIT)
        _exit_now(exc.code)
    except KeyboardInterrupt:
        _exit_now(130)
