"""What real editors do to the debugger, as scenarios that run against any dev server: a local
process (tests/integration) or the dev stack in a container (tests/docker).

Each scenario ends the way a developer needs it to: within ``RECOVERY_SECONDS`` and with no
action of theirs, an edit is served and a new attach stops at the breakpoint again.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from .commands import describe
from .dap import BreakHit, DapClient, DapError, DebugSession, initialize_arguments
from .devlog import RESTARTED, UNCLAIMED
from .net import HttpResponse, http, wait_for_http
from .project import edit_landing_page

RECOVERY_SECONDS = 5
# After the adapter dies the dev server restarts in place (debugpy listens once per process), and
# the new process imports every library again: a fresh start, which a 2-core CI runner busy with
# other containers can stretch past RECOVERY_SECONDS. The bound still tells recovery from a hang.
RESTART_SECONDS = 10
# Where editors break: on the first line of the view that reads one note (GET /api/notes/<id>),
# which no health check or edit check calls.
BREAKPOINT_FILE = Path("app") / "notes.py"
BREAKPOINT_VIEW = "def get_note("


class DebugTarget(Protocol):
    debugpy_port: int
    breakpoint_file: Path  # local path, as the editor knows it
    breakpoint_line: int
    path_mappings: list[dict[str, str]]

    def request(self) -> HttpResponse:
        """The request that runs the breakpoint's line."""

    def edit(self, within: float) -> float:
        """Save a change to the app; the seconds until it was served (at most ``within``)."""

    def kill_adapter(self) -> None: ...

    def log(self) -> str: ...


def session(target: DebugTarget, **options) -> DebugSession:
    """A DAP client attached like VS Code's committed attach configuration."""
    return DebugSession(
        "127.0.0.1",
        target.debugpy_port,
        breakpoints={str(target.breakpoint_file): [target.breakpoint_line]},
        path_mappings=target.path_mappings,
        timeout=20,
        **options,
    )


def hit(target: DebugTarget, debug: DebugSession, evaluate: Iterable[str] = ()) -> BreakHit:
    """The request stops at the breakpoint (in the current app process), then completes."""
    try:
        debug.wait_child(timeout=RECOVERY_SECONDS)
    except DapError as exc:  # which app process did not answer, and what the dev server said
        raise DapError(f"{exc}\nthe dev server's log ends:\n{target.log()[-3000:]}") from None
    stop = debug.break_during(target.request, evaluate=evaluate, timeout=30)
    assert stop.frame["line"] == target.breakpoint_line, stop.frame
    assert Path(stop.frame["source"]["path"]) == target.breakpoint_file, stop.frame
    assert not stop.returned_while_stopped, "the request completed while stopped"
    assert stop.result.status == 200, stop.result
    return stop


def attach_and_hit(target: DebugTarget, retry_until: float | None = None) -> BreakHit:
    """Attach, stop at the breakpoint, detach. With ``retry_until`` (a time.monotonic() value),
    a failed attach is tried again, as a developer would, until then: while the dev server
    restarts, Docker's port proxy accepts a connection and then drops it."""
    while True:
        try:
            with session(target) as debug:
                return hit(target, debug)
        except DapError:
            if retry_until is None or time.monotonic() > retry_until:
                raise
            time.sleep(0.1)


def assert_undisturbed(target: DebugTarget) -> None:
    """Nothing an editor did restarted the dev server in place or left an app process waiting
    for a claim that never came."""
    log = target.log()
    assert RESTARTED not in log, log[-3000:]
    assert UNCLAIMED not in log, log[-3000:]


# -- the scenarios --------------------------------------------------------------------------------


def port_checks(target: DebugTarget, count: int = 20) -> None:
    """Port checks (``nc -z``), and an editor that gives up mid-message."""
    probe(target, count)
    attach_and_hit(target)


def probe(target: DebugTarget, count: int = 20) -> None:
    """``count`` port checks on the debugger port, and one connection that sends half a message
    before it closes."""
    for _ in range(count):
        socket.create_connection(("127.0.0.1", target.debugpy_port), timeout=5).close()
    with socket.create_connection(("127.0.0.1", target.debugpy_port), timeout=5) as half:
        half.sendall(b"Content-Length: 100\r\n\r\n{")


def adapter_killed(target: DebugTarget) -> float:
    """The adapter dies; an edit is served, and an attach stops at the breakpoint again, within
    RESTART_SECONDS of its death. Returns the seconds until that attach stopped."""
    start = time.monotonic()
    target.kill_adapter()
    target.edit(within=RESTART_SECONDS)
    attach_and_hit(target, retry_until=start + RESTART_SECONDS)
    return time.monotonic() - start


def editor_leaves(target: DebugTarget, how: str) -> None:
    """An attached editor leaves in one of the ways of ``dap.LEAVINGS``; an attach made at once
    (no retry) stops at the breakpoint."""
    debug = session(target)
    debug.start()
    debug.wait_child(timeout=RECOVERY_SECONDS)
    debug.close(how)
    attach_and_hit(target)


def crash_mid_attach(target: DebugTarget) -> None:
    """An editor that dies between ``attach`` and ``configurationDone``; an attach made at once
    stops at the breakpoint."""
    attach_and_crash(target)
    attach_and_hit(target)


def attach_and_crash(target: DebugTarget) -> None:
    """An editor that sends ``initialize`` and ``attach``, and dies before
    ``configurationDone``."""
    arguments = session(target).attach_arguments
    client = DapClient.connect("127.0.0.1", target.debugpy_port, timeout=10, name="crashing")
    try:
        client.request("initialize", **initialize_arguments())
        client.send_request("attach", arguments)
        client.wait_event("initialized", timeout=10)  # the adapter has bound it to the app
    finally:
        client.close()


def editor_vanishes_at_a_breakpoint(target: DebugTarget, how: str = "close") -> float:
    """The editor leaves (by default its sockets just close) while the app is stopped for it:
    the stopped request finishes, the next edit is served, and an attach at once stops at the
    breakpoint. Returns the seconds until that edit was served."""
    debug = session(target)
    debug.start()
    debug.wait_child(timeout=RECOVERY_SECONDS)
    request = threading.Thread(target=target.request, daemon=True)
    request.start()
    debug.wait_stopped(timeout=30)
    debug.close(how)
    request.join(timeout=RECOVERY_SECONDS)
    assert not request.is_alive(), "the request stayed stopped after the editor went away"
    seconds = target.edit(within=RECOVERY_SECONDS)
    attach_and_hit(target)
    return seconds


def editor_leaves_before_claiming(
    target: DebugTarget, how: str, app_processes: int, claim_timeout: float
) -> float:
    """An editor that follows app processes leaves (one of ``dap.LEAVINGS``) after a new one
    was announced to it and before it attached to it, as when a window is closed just as a
    save starts a standby: nothing waits for the claim timeout. The next edit is served and,
    once ``claim_timeout`` has passed since the editor left (an app process still held would
    have said so in the log by then), an attach stops at the breakpoint. ``app_processes``:
    how many the dev server keeps (the serving one and its standbys), all claimed before the
    editor stops claiming. Returns the seconds until that edit was served."""
    debug = session(target)
    debug.start()
    debug.wait_child(timeout=RECOVERY_SECONDS, at_least=app_processes)
    debug.follow_children = False  # from here on, told of new app processes, it claims none
    claimed = set(debug.verified)
    target.edit(within=RECOVERY_SECONDS)
    deadline = time.monotonic() + RECOVERY_SECONDS
    while not {pid for _, pid in debug.child_announcements} - claimed:
        assert time.monotonic() < deadline, "no new app process was announced after an edit"
        time.sleep(0.02)
    debug.close(how)
    left = time.monotonic()
    seconds = target.edit(within=RECOVERY_SECONDS)
    # No editor until then: the next one to attach would be told of a held app process, and
    # would claim it.
    time.sleep(max(0.0, left + claim_timeout + 0.5 - time.monotonic()))
    attach_and_hit(target)
    return seconds


# The command that kills the debug adapter in the dev container (its command line alone has
# --for-server).
ADAPTER_KILL = ("pkill", "-KILL", "-f", "--", "--for-server")
# No process has this id: Linux's pid_max is at most 2**22.
NO_SUCH_PROCESS = 2**22 + 1


def attach_to_a_gone_app_process(target: DebugTarget) -> float:
    """An app process is announced, and has exited by the time the editor's attach to it
    reaches the adapter (a leaving one, just after a save; here one the adapter never knew):
    the adapter answers with ``terminated``, and the editor gives it up at once, without an
    error, and still stops at the breakpoint in the serving one. Returns the seconds until
    every other app process was attached once the gone one was announced."""
    with session(target) as debug:
        debug.wait_child(timeout=RECOVERY_SECONDS)
        start = time.monotonic()
        debug.announced(
            "startDebugging",
            {
                **debug.attach_arguments,
                "subProcessId": NO_SUCH_PROCESS,
                "connect": {"host": "127.0.0.1", "port": target.debugpy_port},
            },
        )
        debug.wait_child(timeout=RECOVERY_SECONDS)
        seconds = time.monotonic() - start
        assert debug.gone == {NO_SUCH_PROCESS}, (debug.gone, debug.errors)
        assert not debug.errors, debug.errors
        hit(target, debug)
    return seconds


def client_ignores_children(target: DebugTarget) -> list[float]:
    """A client that says ``"subProcess": false``: it comes and goes while the app serves, then
    stays attached while the app reloads. No app process is announced to it or waits for it,
    and an editor that attaches afterwards stops at breakpoints both in the process that served
    while it came and went, and in the new ones. Returns the seconds each edit took."""
    with session(target, follow_children=False):
        pass
    attach_and_hit(target)
    with session(target, follow_children=False) as debug:
        seconds = [target.edit(within=RECOVERY_SECONDS) for _ in range(3)]
        assert not debug.child_announcements, debug.child_announcements
    attach_and_hit(target)
    return seconds


def attach_detach_cycles(target: DebugTarget, cycles: int = 3) -> None:
    for _ in range(cycles):
        attach_and_hit(target)
        target.edit(within=RECOVERY_SECONDS)
    attach_and_hit(target)


def reconnects_at_once(target: DebugTarget, times: int = 3) -> None:
    for _ in range(times):
        debug = session(target)
        debug.start()
        debug.close()
    attach_and_hit(target)


class ServiceTarget:
    """A dev server in a container (a compose stack, a dev container) as a DebugTarget: an editor
    on the host, attached through the published debugger port, its folder mapped to /app."""

    def __init__(
        self,
        url: str,
        debugpy_port: int,
        workspace: Path,
        logs: Callable[[], str],
        exec: Callable[..., subprocess.CompletedProcess[str]],
        path_mappings: list[dict[str, str]] | None = None,
    ) -> None:
        self.url, self.workspace, self.logs, self.exec = url, workspace, logs, exec
        self.debugpy_port = debugpy_port
        self.breakpoint_file = workspace / BREAKPOINT_FILE
        lines = [
            n + 1
            for n, text in enumerate(self.breakpoint_file.read_text().splitlines(), 1)
            if text.startswith(BREAKPOINT_VIEW)
        ]
        assert len(lines) == 1, f"{BREAKPOINT_FILE}: expected one {BREAKPOINT_VIEW!r}: {lines}"
        self.breakpoint_line = lines[0]
        self.path_mappings = path_mappings or [{"localRoot": str(workspace), "remoteRoot": "/app"}]
        created = http("POST", url + "/api/notes", {"title": "stop here"})
        assert created.status == 201, created.body
        self.note_id = created.json()["id"]

    def request(self):
        return http("GET", f"{self.url}/api/notes/{self.note_id}", timeout=60)

    def edit(self, within: float) -> float:
        marker = edit_landing_page(self.workspace)
        _, seconds = wait_for_http(
            self.url + "/", body_contains=marker.encode(), timeout=within, interval=0.05
        )
        return seconds

    def kill_adapter(self) -> None:
        result = self.exec(*ADAPTER_KILL)
        assert result.returncode == 0, describe(result)

    def log(self) -> str:
        return self.logs()
