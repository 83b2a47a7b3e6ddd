"""The supervisor: the dev server's outer process. It holds the HTTP socket and the debugger,
runs the app in an app process (``dev.app_process``), and hands over to the next one after
every reload.

It never serves a request itself, so nothing the app or an editor does can take it down:
- a reload: the app process reports that it is leaving (it no longer accepts connections) and
  a standby takes over at once, while the one leaving lets its requests finish: the next app
  process, with the libraries the app uses preloaded (``dev.preload``; and, when an editor is
  attached, already attached to it), waiting for its go. STANDBYS are kept, started one at a
  time once the serving one has loaded the app, so that a save that follows another closely
  (a formatter's, a fix) also finds one ready. All share one socket, so requests made
  meanwhile wait in the backlog instead of failing;
- an app process that dies any other way (a crash, ``os._exit``): the next one answers every
  request with a JSON 500 that says so, until a change;
- a debug adapter that exits or stops accepting editors (the debugger is lost): it restarts
  itself in place (same PID, same HTTP socket) with a fresh ``debugpy.listen``, which a process
  can only call once;
- new pins in requirements*.txt: it syncs the venv while the app serves, then starts a new app
  process on it (``dev.dependencies``);
- orphans: it is a child subreaper (and PID 1 without ``init``), and reaps every child.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dev import debugpy_fixes, exit_now, say
from dev.app_process import EXITED_ENV, GO_FD_ENV, LEAVING, LOADED, READY, REPORT_FD_ENV
from dev.debugger import Debugger
from dev.dependencies import Pins
from dev.preload import MODULES_ENV
from dev.settings import Settings

RELOAD_EXIT = 3  # Werkzeug's reloader ends the app process with 3 when a file changed
HTTP_FD_ENV = "BERTH_HTTP_FD"  # the HTTP socket, kept across a restart in place
STOP_TIMEOUT = 1.5  # seconds an app process gets to finish after SIGTERM
POLL = 0.25  # seconds between looks at the pins and the debugger, whatever else happens
# Standbys kept ready: a save lands on one, and the formatter's save right after on the next.
STANDBYS = 2
UNPREPARED = "no standby ready"  # said when a reload finds none (saves faster than they start)


class Supervisor:
    def __init__(
        self, settings: Settings, root: Path, command: Sequence[str], debugger: Debugger | None
    ) -> None:
        self.settings = settings
        self.root = root
        self.command = list(command)
        self.debugger = debugger
        self.pins = Pins(root)
        self.sock: socket.socket | None = None
        self.current: AppProcess | None = None  # the app process that serves
        self.standbys: list[AppProcess] = []  # oldest first
        self.leaving: list[AppProcess] = []  # handed over, finishing their requests
        self.stopping = False
        self.debugger_lost: str | None = None  # why editors can no longer attach
        # Signals, exited children and the debugger watch all wake _wait() through this pipe.
        self._wakeup_r, self._wakeup_w = os.pipe()
        os.set_blocking(self._wakeup_w, False)

    # -- the main loop -----------------------------------------------------------------------------

    def run(self) -> None:
        self._handle_signals()
        become_subreaper()
        self.sock = http_socket(self.settings.port)
        if MODULES_ENV not in os.environ:  # kept across a restart in place, like the socket
            os.environ[MODULES_ENV] = os.path.join(tempfile.mkdtemp(prefix="berth-dev-"), "modules")
        if self.debugger is not None:
            self.debugger.listen()
            watch = threading.Thread(target=self._watch_debugger, name="berth-debugger")
            watch.daemon = True
            watch.start()
        say(self._banner())
        if self.debugger is not None and self.settings.debugpy_wait:
            self.debugger.wait_for_client()
            say("debugger attached")
        exited: int | None = None
        while True:
            self._hand_over(exited)
            code = self._run_app()
            exited = None if code in (RELOAD_EXIT, None) else code
            if exited is not None:
                say(f"app process exited with {code}; waiting for a file change to restart")

    def _run_app(self) -> int | None:
        """Until the app process leaves after a change (RELOAD_EXIT) or exits (its exit code),
        or new pins were synced and it was stopped, with the standbys, to restart on them
        (None). Pins that fail to sync leave it serving. Standbys are started meanwhile."""
        while True:
            self._wait(self._app_news, fds=lambda: [a.report_fd for a in self._apps()])
            self._stop_or_restart()
            if self.current.exited():
                return self.current.returncode
            if self.current.reported(LEAVING):
                self.leaving.append(self.current)
                return RELOAD_EXIT
            if self.pins.changed():
                if self.pins.apply(lambda: self.stopping):
                    self._stop_apps()
                    self._stop_or_restart()
                    return None
                continue
            if self._standby_due():
                self.standbys.append(self._start_app())

    def _app_news(self) -> bool:
        """Whether the serving app process left or exited, pins changed, or a standby is due;
        every report read, so that no pipe is left readable."""
        for app in self._apps():
            app.read_reports()
        return (
            self.current.exited()
            or self.current.reported(LEAVING)
            or self.pins.changed()
            or self._standby_due()
        )

    def _apps(self) -> list[AppProcess]:
        """Every app process: serving, standing by, leaving."""
        return [a for a in (self.current, *self.standbys, *self.leaving) if a is not None]

    def _standby_due(self) -> bool:
        """Whether to start a standby now: one at a time, each once the serving app process
        has loaded the app and the standbys before it are ready, so that none slows another."""
        return (
            len(self.standbys) < STANDBYS
            and self.current.reported(LOADED)
            and all(a.reported(READY) for a in self.standbys)
        )

    def _hand_over(self, exited: int | None) -> None:
        """The oldest ready standby gets its go (or the oldest one still starting, or a new app
        process). After an app process died (``exited``), a new one says so until a change, and
        the standbys wait on."""
        if exited is not None:
            self.current = self._start_app(exited)
        else:
            ready = [a for a in self.standbys if a.reported(READY)]
            if not ready and self.current is not None and self.current.reported(LEAVING):
                say(f"{UNPREPARED}: this reload waits for its libraries")
            chosen = ready or self.standbys
            if chosen:
                self.current = chosen[0]
                self.standbys.remove(self.current)
            else:
                self.current = self._start_app()
        self.current.go()

    def _banner(self) -> str:
        s = self.settings
        debugger = f"debugpy on 0.0.0.0:{s.debugpy_port}" if self.debugger else "debugpy off"
        if self.debugger and s.debugpy_wait:
            debugger += " (waiting for a client before serving)"
        reloader = "stat" if s.reload_poll else "watchdog"
        return (
            f"berth dev server: app on http://0.0.0.0:{s.port}, {debugger}, "
            f"reloader {reloader} (interval {s.reload_interval:g}s), root {self.root}"
        )

    def _start_app(self, exited: int | None = None) -> AppProcess:
        fd = self.sock.fileno()
        go_r, go_w = os.pipe()
        report_r, report_w = os.pipe()
        env = {k: v for k, v in os.environ.items() if k != HTTP_FD_ENV}
        env.update(
            WERKZEUG_RUN_MAIN="true",
            WERKZEUG_SERVER_FD=str(fd),
            **{GO_FD_ENV: str(go_r), REPORT_FD_ENV: str(report_w)},
        )
        if exited is not None:
            env[EXITED_ENV] = str(exited)
        try:
            popen = subprocess.Popen(self.command, env=env, pass_fds=(fd, go_r, report_w))  # noqa: S603
        finally:
            os.close(go_r)
            os.close(report_w)
        return AppProcess(popen, go_w, report_r)

    # -- waiting ---------------------------------------------------------------------------------

    def _handle_signals(self) -> None:
        def stop(signum, frame):
            self.stopping = True
            if self.current is None:  # still starting (e.g. DEBUGPY_WAIT): nothing to clean up
                exit_now(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # A Python handler, so that SIGCHLD reaches the wakeup pipe.
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self._wakeup_w)

    def _wait(
        self,
        done,
        timeout: float | None = None,
        interruptible: bool = True,
        fds: Callable[[], Sequence[int | None]] = tuple,
    ) -> None:
        """Until ``done()`` (checked at least every POLL s, and whenever the wakeup pipe or one
        of ``fds()`` can be read), ``timeout``, or, if ``interruptible``, a stop or a lost
        debugger. Reaps children meanwhile (which closes the pipes of those that exited: hence
        fds() anew)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._reap()
            if done() or (interruptible and (self.stopping or self.debugger_lost)):
                return
            remaining = POLL if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            watched = [self._wakeup_r, *(fd for fd in fds() if fd is not None)]
            ready, _, _ = select.select(watched, [], [], min(remaining, POLL))
            if self._wakeup_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wakeup_r, 4096)

    def _reap(self) -> None:
        """Collect every exited child: the app process, the debug adapter, and any orphan that
        was handed to us."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            app = next((a for a in self._apps() if a.popen.pid == pid), None)
            if app is not None:
                app.popen.returncode = os.waitstatus_to_exitcode(status)
                app.close()
                for group in (self.standbys, self.leaving):  # the serving one is dealt with
                    if app in group:
                        group.remove(app)
            elif self.debugger is not None and pid == self.debugger.adapter_pid:
                self.debugger_lost = self.debugger_lost or "the debug adapter exited"

    def _watch_debugger(self) -> None:
        while not self.debugger_lost:
            time.sleep(POLL)
            reason = self.debugger.lost()
            if reason:
                self.debugger_lost = reason
                with contextlib.suppress(OSError):
                    os.write(self._wakeup_w, b"d")

    # -- what happens next ------------------------------------------------------------------------

    def _stop_or_restart(self) -> None:
        if self.stopping:
            self._stop_apps()
            shutil.rmtree(os.path.dirname(os.environ[MODULES_ENV]), ignore_errors=True)
            exit_now(0)
        if self.debugger_lost:
            say(f"{self.debugger_lost}; restarting the dev server in place for a new debugger")
            self._stop_apps()
            signal.set_wakeup_fd(-1)
            os.environ[HTTP_FD_ENV] = str(self.sock.fileno())
            debugpy_fixes.execv(self.command[0], self.command)

    def _stop_apps(self) -> None:
        """Every app process (serving, standing by, leaving): SIGTERM, then SIGKILL if they
        have not exited within STOP_TIMEOUT."""
        apps = self._apps()
        for send in ("terminate", "kill"):
            for app in apps:
                if not app.exited():
                    with contextlib.suppress(ProcessLookupError):
                        getattr(app.popen, send)()
            self._wait(lambda: all(a.exited() for a in apps), STOP_TIMEOUT, interruptible=False)


class AppProcess:
    """An app process, its go pipe and its report pipe (``dev.app_process``)."""

    def __init__(self, popen: subprocess.Popen, go: int, report: int) -> None:
        self.popen = popen
        self._go: int | None = go
        self.report_fd: int | None = report
        self.reports: set[bytes] = set()
        os.set_blocking(report, False)

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def exited(self) -> bool:
        return self.popen.returncode is not None

    def reported(self, news: bytes) -> bool:
        """Whether it has reported ``news`` (READY, LOADED, LEAVING)."""
        self.read_reports()
        return news in self.reports

    def read_reports(self) -> None:
        """All it has reported so far: a pipe left readable would wake every wait at once."""
        while self.report_fd is not None:
            try:
                read = os.read(self.report_fd, 16)
            except BlockingIOError:
                return
            if not read:
                os.close(self.report_fd)
                self.report_fd = None
            self.reports.update(read[i : i + 1] for i in range(len(read)))

    def go(self) -> None:
        """Tell it to serve."""
        if self._go is not None:
            with contextlib.suppress(OSError):  # it died: the supervisor's loop will see it
                os.write(self._go, b"1")
            os.close(self._go)
            self._go = None

    def close(self) -> None:
        """Its pipes, once it has exited."""
        for fd in (self._go, self.report_fd):
            if fd is not None:
                os.close(fd)
        self._go = self.report_fd = None


def become_subreaper() -> None:
    """Orphans of our process tree (the debug adapter daemonizes) become our children, so we
    can see them exit and reap them; Linux only, harmless elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def http_socket(port: int) -> socket.socket:
    """The app's listening socket: bound once, inherited by each app process and across a
    restart in place."""
    inherited = os.environ.pop(HTTP_FD_ENV, None)
    if inherited:
        sock = socket.socket(fileno=int(inherited))
    else:
        try:
            sock = socket.create_server(("0.0.0.0", port), backlog=128)  # noqa: S104 - container
        except OSError as exc:
            say(f"cannot listen on PORT={port}: {exc.strerror}")
            exit_now(2)
    sock.set_inheritable(True)
    return sock
