"""What real editors do to the debugger, as scenarios that run against any dev server: a local
process (tests/integration) or the dev stack in a container (tests/docker).

Each scenario ends the way a developer needs it to: within ``RECOVERY_SECONDS`` and with no
action of theirs, an edit is served and a new attach stops at the breakpoint again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from tests.support.containers import HttpResponse
from tests.support.dap import BreakHit, DebugSession

RECOVERY_SECONDS = 5


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
    debug.wait_child(timeout=RECOVERY_SECONDS)
    stop = debug.break_during(target.request, evaluate=evaluate, timeout=30)
    assert stop.frame["line"] == target.breakpoint_line, stop.frame
    assert Path(stop.frame["source"]["path"]) == target.breakpoint_file, stop.frame
    assert not stop.returned_while_stopped, "the request completed while stopped"
    assert stop.result.status == 200, stop.result
    return stop


def attach_and_hit(target: DebugTarget) -> BreakHit:
    with session(target) as debug:
        return hit(target, debug)


# -- the scenarios --------------------------------------------------------------------------------


def port_checks(target: DebugTarget, count: int = 20) -> None:
    """Port checks (``nc -z``), and an editor that gives up mid-message."""
    for _ in range(count):
        socket.create_connection(("127.0.0.1", target.debugpy_port), timeout=5).close()
    with socket.create_connection(("127.0.0.1", target.debugpy_port), timeout=5) as half:
        half.sendall(b"Content-Length: 100\r\n\r\n{")
    attach_and_hit(target)


def adapter_killed(target: DebugTarget) -> float:
    target.kill_adapter()
    seconds = target.edit(within=RECOVERY_SECONDS)
    attach_and_hit(target)
    return seconds


def editor_vanishes_at_a_breakpoint(target: DebugTarget) -> None:
    """The editor's socket closes (no ``disconnect``) while the app is stopped for it."""
    debug = session(target)
    debug.start()
    debug.wait_child(timeout=RECOVERY_SECONDS)
    request = threading.Thread(target=target.request, daemon=True)
    request.start()
    debug.wait_stopped(timeout=30)
    debug.close(disconnect=False)
    request.join(timeout=RECOVERY_SECONDS)
    assert not request.is_alive(), "the request stayed stopped after the editor went away"
    target.edit(within=RECOVERY_SECONDS)
    attach_and_hit(target)


def client_ignores_children(target: DebugTarget) -> float:
    """A client with ``subProcess: false`` (or that ignores announcements) stays attached."""
    with session(target, follow_children=False) as debug:
        seconds = target.edit(within=RECOVERY_SECONDS)
        assert debug.child_announcements, "the new app process was never announced"
        target.edit(within=RECOVERY_SECONDS)
    assert "no editor attached to this app process within" in target.log()
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
