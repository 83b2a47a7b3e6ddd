"""Development-only tooling, never imported by the application: ``python -m dev.serve``.

This package is also what debugpy preimports in every child process it injects itself into
(``tune_pydevd()`` arranges it): pydevd imports it before connecting to the adapter, which is the
one hook that runs early enough to fix that connection. Outside such a process, importing it
does nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import sys
import threading
from pathlib import Path


def tune_pydevd() -> None:
    """Work around microsoft/debugpy#2054 (still open in 1.8.22), here and in child processes.

    pydevd writes every message as two send() calls (header, then body) on a socket without
    TCP_NODELAY, so Nagle's algorithm and the adapter's delayed ACK hold each message ~40 ms;
    attaching the editor to a new reloader child takes ~7 of them (~0.3 s per reload). Turn on
    TCP_NODELAY before each send, and have debugpy preimport this package (after importing its
    own ``force_pydevd``, the default preimport) in each child so the fix is in place before
    the child connects. Call it after ``debugpy.listen()``.
    """
    try:
        import debugpy._vendored.force_pydevd  # noqa: F401 - the default preimport
        from _pydevd_bundle import pydevd_defaults
        from _pydevd_bundle.pydevd_net_command import NetCommand
    except ImportError:
        return
    original = NetCommand.send
    if not getattr(original, "berth_nodelay", False):

        def send(self: NetCommand, sock: socket.socket) -> None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            original(self, sock)

        send.berth_nodelay = True  # type: ignore[attr-defined]
        NetCommand.send = send
    # "<sys.path entry>;<module>": what pydevd imports in each child before it connects.
    pydevd_defaults.PydevdCustomization.PREIMPORT = f"{Path(__file__).parent.parent};{__name__}"


def _prewarm() -> None:
    """Import the heavy libraries while pydevd waits for the editor to attach to this child
    (about 0.1 s off each reload). Only libraries: app code must be imported under tracing."""
    for name in ("werkzeug.serving", "flask", "watchdog.observers"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)


# A child held by pydevd until an editor attaches to it; see _restart_if_never_attached().
CHILD_ATTACH_TIMEOUT = 10.0
_serving = threading.Event()


def mark_serving() -> None:
    """dev.serve calls this when it starts running, i.e. once pydevd let this process go."""
    _serving.set()


def _restart_if_never_attached() -> None:
    """While an editor is attached to the reloader process, debugpy holds each new child before
    it runs any code until the editor attaches to that child too. An editor that does not follow
    subprocesses (or that disconnects at the wrong moment) would leave the child held forever,
    and a held child does not even watch files. Exit with 3 instead: Werkzeug's reloader then
    starts a new child, which runs at once if no editor is attached any more."""
    if not _serving.wait(CHILD_ATTACH_TIMEOUT):
        print(
            f" * no debugger attached to this child in {CHILD_ATTACH_TIMEOUT:g}s (does the editor "
            "follow subprocesses?); restarting it",
            file=sys.stderr,
            flush=True,
        )
        os._exit(3)


if "_pydevd_bundle.pydevd_defaults" in sys.modules and "debugpy.server" not in sys.modules:
    # Preimported by pydevd in a child process (the parent has called debugpy.listen(), so it
    # has debugpy.server loaded, and imports this package before pydevd anyway).
    tune_pydevd()
    threading.Thread(target=_prewarm, name="berth-prewarm", daemon=True).start()
    threading.Thread(target=_restart_if_never_attached, name="berth-held", daemon=True).start()
