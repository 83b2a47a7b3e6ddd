"""The app process: it serves the app with Werkzeug's server on the supervisor's socket, and
Werkzeug's file watcher ends it with exit code 3 on a change, so that the supervisor
(``dev.supervisor``) hands over to the next one. Only app processes watch files: this module
is the one definition of what triggers a reload (``watcher()``).

Each starts as a standby: it preloads the libraries the app needs (``dev.preload``), then waits
for its go before it imports the app, so that a reload only costs importing the app itself.
What the supervisor and an app process tell each other, besides Werkzeug's own
``WERKZEUG_RUN_MAIN`` and ``WERKZEUG_SERVER_FD`` (the listening socket):

- ``BERTH_GO_FD``, the go pipe from the supervisor: one byte means "serve now"; its end means
  the supervisor is gone;
- ``BERTH_REPORT_FD``, the report pipe to the supervisor, one byte per report: ``READY``
  (preloaded, waiting for its go), ``LOADED`` (the app is loaded, or failed to load and the
  error app serves: the supervisor may start the next standby now without slowing this one's
  start), ``LEAVING`` (a change was seen and it no longer accepts connections: the next one
  can take over now, while this one lets its requests finish and exits);
- ``BERTH_MODULES`` (``dev.preload``): the file of learned library names;
- ``BERTH_EXITED``: set when the app process before this one died (a crash, ``os._exit``):
  this one does not import the app, it answers every request with a JSON 500 that says so,
  and waits for a change like any other.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from dev import exit_now, metrics, preload, say
from dev.settings import Settings

GO_FD_ENV = "BERTH_GO_FD"
REPORT_FD_ENV = "BERTH_REPORT_FD"
READY, LOADED, LEAVING = b"r", b"l", b"x"  # the reports, one byte each
_report_fd: int | None = None  # taken from REPORT_FD_ENV, so the app's own children lack it
EXITED_ENV = "BERTH_EXITED"
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
# Excluded folders that can hold thousands of folders: never under a recursive watch.
LARGE_DIRS = (".venv", "venv", "node_modules", ".git")
DRAIN_TIMEOUT = 1.0  # seconds requests in progress get to finish before a reload
BODY_KEY = "berth.body"  # where InFlight leaves each response body, for closing_handler()


def run(settings: Settings, root: Path) -> None:
    """The app process, from standby to exit: exit code 3 after a change, 0 when stopped."""
    global _report_fd
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    _exit_when_orphaned()
    exited = os.environ.pop(EXITED_ENV, None)
    if exited is None:
        preload.finish()
    from werkzeug.serving import make_server

    report = os.environ.pop(REPORT_FD_ENV, None)
    _report_fd = None if report is None else int(report)
    _report(READY)
    go = os.environ.pop(GO_FD_ENV, None)
    if go is not None and not os.read(int(go), 1):
        exit_now(0)  # the supervisor is gone
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    start, before = time.perf_counter(), frozenset(sys.modules)
    app, server, loaded = None, None, 0
    try:
        with watcher(settings, root) as watching:  # before the import: see watcher()
            if exited is None:
                wsgi, ok = load_app(settings.flask_debug)
            else:
                message = f"the app process exited with {exited}; save a file to restart it"
                wsgi, ok = error_app(message), False
            app, loaded = InFlight(wsgi), len(sys.modules)
            if ok:
                _say_loaded(root, time.perf_counter() - start, before)
                preload.learn(root)
            metrics.serve(wsgi)
            server = make_server(
                "0.0.0.0",  # noqa: S104 - the socket is the supervisor's; this only names it
                settings.port,
                app,
                threaded=True,
                request_handler=closing_handler(),
                fd=int(os.environ["WERKZEUG_SERVER_FD"]),
            )
            threading.Thread(target=server.serve_forever, name="berth-http", daemon=True).start()
            _report(LOADED)
            try:
                watching.run()  # until a change: SystemExit(3)
            finally:
                # Before the watcher stops (threads to join): the next one takes over now.
                _stop_serving(server)
                server = None
                _report(LEAVING)
        code: object = 0
    except SystemExit as exc:  # 3 from the watcher on a change, 0 on SIGTERM
        code = exc.code
    finally:
        if server is not None:
            _stop_serving(server)
    if app is not None:
        if len(sys.modules) > loaded:
            preload.learn(root)  # again: serving requests imported more
        app.wait_idle(DRAIN_TIMEOUT)
    exit_now(code)


def _report(news: bytes) -> None:
    if _report_fd is not None:
        with contextlib.suppress(OSError):  # the supervisor is gone; the orphan watch ends us
            os.write(_report_fd, news)


def _stop_serving(server) -> None:
    """Close this process's copy of the socket: new connections wait in the supervisor's for
    the next app process. Requests in progress go on in their threads."""
    # The accept loop is told to end first: on a closed socket it would spin until exit.
    threading.Thread(target=server.shutdown, name="berth-shutdown", daemon=True).start()
    server.server_close()


def watcher(settings: Settings, root: Path):
    """Werkzeug's file watcher (its reloader loop), entered before the app is imported.

    Werkzeug's own ``run_simple(use_reloader=True)`` starts watching only after the app has been
    imported, so a file saved while the import runs (an editor that truncates, then writes; a
    second save in quick succession) is never seen, and the app serves a half-written module
    until the next edit (the upstream report is in docs/debugger.md). Entered first, the watcher
    sees such a save and the next app process takes over. With inotify it watches only the
    folders of ``watch_plan()``. ``werkzeug._reloader`` is private:
    tests/unit/test_dev_watcher.py fails if a Werkzeug upgrade moves it.
    """
    from werkzeug._reloader import reloader_loops

    loop = reloader_loops["stat" if settings.reload_poll else "watchdog"]
    if not settings.reload_poll:
        loop = _planned(loop, root)
    return loop(
        extra_files=watched_files(root),
        exclude_patterns=excluded_patterns(root),
        interval=settings.reload_interval,
    )


def _planned(loop: type, root: Path) -> type:
    """Werkzeug's watchdog loop, watching the folders of ``watch_plan()`` instead of the whole
    project recursively: Werkzeug's one recursive watch of the root walks .git, a local .venv
    and node_modules in every app process before the app can import (100 ms in a checkout
    with a .venv), and sets inotify watches on all of them."""

    class PlannedLoop(loop):
        def run_step(self) -> None:
            # Werkzeug's run_step(), with (folder, recursive) for keys.
            stale = set(self.watches)
            for key in watch_plan(root):
                if key not in self.watches:
                    try:
                        self.watches[key] = self.observer.schedule(
                            self.event_handler, key[0], recursive=key[1]
                        )
                    except OSError:  # gone since: the next step looks again
                        continue
                stale.discard(key)
            for key in stale:
                watch = self.watches.pop(key)
                if watch is not None:
                    self.observer.unschedule(watch)

    return PlannedLoop


def watch_plan(root: Path) -> set[tuple[str, bool]]:
    """The folders whose changes reload, as (folder, recursive): the root itself (its own
    files: setting.py, .env), and each top-level folder that holds project code the process
    imported, app/ always, each without its EXCLUDED_DIRS. As few watches as that allows: each
    one costs watchdog a thread and an inotify instance (128 per user by default). Folders
    added later are picked up by the loop's next step (every RELOAD_INTERVAL)."""
    own = str(root) + os.sep
    tops = {APP_PACKAGE}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(own) and os.sep in path[len(own) :]:
            tops.add(path[len(own) :].split(os.sep, 1)[0])
    plan = {(str(root), False)}
    for name in tops - set(EXCLUDED_DIRS):
        if (root / name).is_dir():
            plan |= _unexcluded(str(root / name))
    return plan


def _unexcluded(top: str) -> set[tuple[str, bool]]:
    """``top`` and its subfolders but the LARGE_DIRS: one recursive watch for each subtree
    without any of them, one watch of its own for each folder with one."""
    try:
        folders = [e for e in os.scandir(top) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return set()
    kept = [e.path for e in folders if e.name not in LARGE_DIRS]
    below = [_unexcluded(path) for path in kept]
    if len(kept) == len(folders) and all(
        plan == {(p, True)} for p, plan in zip(kept, below, strict=True)
    ):
        return {(top, True)}
    return {(top, False)}.union(*below)


def load_app(debug: bool) -> tuple[Callable, bool]:
    """Import and build the app, and whether that worked; never raise (a broken edit must not
    stop the watcher): the error app serves then."""
    try:
        from app import create_app

        app = create_app()
        app.debug = debug
        return app, True
    except (Exception, SystemExit) as exc:
        traceback.print_exc()
        summary = "".join(traceback.format_exception_only(exc)).strip()
        say(f"app failed to load: {summary}; waiting for a change to reload")
        return error_app(f"app failed to load: {summary}"), False


def _say_loaded(root: Path, seconds: float, before: frozenset[str]) -> None:
    """What the load cost since the go signal, and which libraries it imported that the
    standby had not preloaded (after the first reload: none)."""
    imported = len(sys.modules) - len(before)
    libraries = preload.libraries(root, since=before)
    named = ", ".join(sorted({name.partition(".")[0] for name in libraries})) or "none"
    say(
        f"app loaded in {seconds:.3f} s: {imported} modules imported, "
        f"{len(libraries)} of them libraries ({named})"
    )


def error_app(detail: str) -> Callable:
    """A JSON 500 for every request, in the app's own error shape (app/errors.py), so that API
    clients see a familiar answer; with its length, so that it is whole before a reload."""
    error = {"status": 500, "message": "the app is not running (see the dev server log)"}
    body = json.dumps({"error": {**error, "detail": detail}}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    def serve_error(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response("500 INTERNAL SERVER ERROR", headers)
        return [body]

    return serve_error


class InFlight:
    """WSGI middleware counting requests in progress, so that a reload lets them finish. A
    request counts until the server closes its response (WSGI's ``close()``), which it does
    after the last byte, so that a reload never cuts an answer short."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.count = 0
        self.idle = threading.Condition()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with self.idle:
            self.count += 1
        try:
            body = environ[BODY_KEY] = _Counted(self, self.app(environ, start_response))
            return body
        except BaseException:
            self.done()
            raise

    def done(self) -> None:
        with self.idle:
            self.count -= 1
            self.idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.count == 0, timeout)


class _Counted:
    """A response body that tells ``InFlight`` when the server has closed it."""

    def __init__(self, requests: InFlight, body: Iterable[bytes]) -> None:
        self.requests, self.body, self.closed = requests, body, False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.requests.done()


def closing_handler() -> type:
    """Werkzeug's request handler, made to close every response body, as PEP 3333 asks.

    Werkzeug 3.1's ``run_wsgi()`` closes the body last in a ``finally`` that first reads what
    the client may still be sending; when the client has reset the connection by then (Docker's
    port proxy does, right after the answer), that read raises and ``close()`` is skipped.
    ``InFlight`` then counts the request forever, and the next reload waits DRAIN_TIMEOUT for
    it. The upstream report is in docs/debugger.md;
    tests/unit/test_dev_app_process.py fails once an upgrade closes the body itself.
    """
    from werkzeug.serving import WSGIRequestHandler

    class ClosingHandler(WSGIRequestHandler):
        def run_wsgi(self) -> None:
            try:
                super().run_wsgi()
            finally:
                body = getattr(self, "environ", {}).get(BODY_KEY)
                if body is not None:
                    body.close()  # once: _Counted ignores a second close

    return ClosingHandler


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
