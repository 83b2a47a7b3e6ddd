"""Workarounds for debugpy bugs: every use of debugpy's internals in berth is in this module.

Each fix was written against debugpy ``TESTED_WITH``. Each one checks that the internals it
replaces still exist and does nothing otherwise; ``stale()`` names what no longer fits (a newer
version, a renamed internal) and a unit test fails on it, so an upgrade gets looked at. What each
bug is, and the text of an upstream report, is in docs/debugger.md.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable

TESTED_WITH = "1.8.22"


def _internals() -> dict[str, Callable[[], object]]:
    """What the fixes touch, by name, each as a lookup that raises when it is gone."""

    def adapter_serve():
        from debugpy.common import sockets

        return sockets.serve

    def report_sockets():
        from debugpy.adapter import clients

        return clients.Client.report_sockets

    def no_more_messages():
        from debugpy.common import messaging

        return messaging.NoMoreMessages

    def net_command_send():
        import debugpy._vendored.force_pydevd  # noqa: F401 - puts pydevd on sys.path
        from _pydevd_bundle.pydevd_net_command import NetCommand

        return NetCommand.send

    def preimport():
        import debugpy._vendored.force_pydevd  # noqa: F401
        from _pydevd_bundle.pydevd_defaults import PydevdCustomization

        return PydevdCustomization.PREIMPORT

    def adapter_main():
        from debugpy.adapter.__main__ import main

        return main

    def ready_to_run():
        import inspect

        import debugpy._vendored.force_pydevd  # noqa: F401
        import pydevd

        if "self.ready_to_run" not in inspect.getsource(pydevd.PyDB.__init__):
            raise AttributeError("PyDB has no ready_to_run")
        return pydevd.get_global_debugger

    return {
        "debugpy.common.sockets.serve": adapter_serve,
        "debugpy.adapter.clients.Client.report_sockets": report_sockets,
        "debugpy.common.messaging.NoMoreMessages": no_more_messages,
        "pydevd NetCommand.send": net_command_send,
        "pydevd PydevdCustomization.PREIMPORT": preimport,
        "debugpy.adapter.__main__.main": adapter_main,
        "pydevd PyDB.ready_to_run": ready_to_run,
    }


def stale() -> list[str]:
    """Why these fixes may no longer fit the installed debugpy; empty when they do."""
    from importlib import metadata

    problems = []
    version = metadata.version("debugpy")
    if version != TESTED_WITH:
        problems.append(f"debugpy {version} is installed; the fixes were checked on {TESTED_WITH}")
    for name, lookup in _internals().items():
        try:
            lookup()
        except (ImportError, AttributeError) as exc:
            problems.append(f"{name} is gone ({exc})")
    return problems


# -- the adapter process ---------------------------------------------------------------------------


def guard_adapter_accept() -> None:
    """The adapter's accept loop calls its handler unguarded (``sockets.serve``): a client that
    connects and closes before the handler has sent its first event (a port check, ``nc -z``)
    raises ``NoMoreMessages`` there, the accept thread dies, and no editor can attach again.
    Keep the loop alive: a connection that fails while it is set up is closed and forgotten.

    ``Client.report_sockets`` also writes to the oldest session's client, which may be gone when
    an editor reconnects at once; that write must not fail the new client."""
    from debugpy.adapter import clients
    from debugpy.common import log, messaging, sockets

    serve = sockets.serve
    if not getattr(serve, "berth_guarded", False):

        def guarded_serve(name, handler, *args, **kwargs):
            def guarded(sock):
                try:
                    handler(sock)
                except Exception:  # the accept loop must outlive any one connection
                    log.swallow_exception("{0} connection failed while it was set up:", name)
                    sockets.close_socket(sock)

            return serve(name, guarded, *args, **kwargs)

        guarded_serve.berth_guarded = True
        sockets.serve = guarded_serve

    report = clients.Client.report_sockets
    if not getattr(report, "berth_guarded", False):

        def report_sockets(self):
            with contextlib.suppress(messaging.NoMoreMessages, OSError):
                report(self)

        report_sockets.berth_guarded = True
        clients.Client.report_sockets = report_sockets


def run_adapter() -> None:
    """Run debugpy's adapter with the guard: the entry of the adapter process (see
    ``dev.debugger.adapter_launcher``). debugpy runs ``python <adapter folder> <arguments>``;
    here ``sys.argv[1:]`` is that folder and those arguments."""
    from debugpy.adapter.__main__ import main

    with contextlib.suppress(ImportError, AttributeError):
        guard_adapter_accept()
    del sys.argv[0]
    main()


# -- debugged processes (the dev server and each app process) --------------------------------------


def nodelay_sends() -> None:
    """microsoft/debugpy#2054: pydevd writes each message as two ``send()`` calls (header, body)
    on a socket without TCP_NODELAY, so Nagle's algorithm and the adapter's delayed ACK hold each
    message about 40 ms; attaching to a new app process after a reload takes about seven of
    them. Set TCP_NODELAY before each send."""
    with contextlib.suppress(ImportError, AttributeError):
        import debugpy._vendored.force_pydevd  # noqa: F401
        from _pydevd_bundle.pydevd_net_command import NetCommand

        send = NetCommand.send
        if getattr(send, "berth_nodelay", False):
            return

        def nodelay_send(self, sock: socket.socket) -> None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            send(self, sock)

        nodelay_send.berth_nodelay = True
        NetCommand.send = nodelay_send


def preimport_in_children(sys_path_entry: str, module: str) -> None:
    """Have pydevd import ``module`` in every process it injects itself into, before that
    process connects to the adapter (the only hook that runs that early)."""
    with contextlib.suppress(ImportError, AttributeError):
        import debugpy._vendored.force_pydevd  # noqa: F401
        from _pydevd_bundle import pydevd_defaults

        pydevd_defaults.PydevdCustomization.PREIMPORT = f"{sys_path_entry};{module}"


def is_held() -> bool | None:
    """In a debugged app process: whether pydevd holds it before its first line, waiting for an
    editor to attach to it; None while pydevd is not set up yet."""
    with contextlib.suppress(ImportError, AttributeError):
        import pydevd

        debugger = pydevd.get_global_debugger()
        return None if debugger is None else not debugger.ready_to_run
    return False


def release() -> None:
    """Let a held process run, as an editor's ``configurationDone`` would. An editor can still
    attach to it later: pydevd stays connected to the adapter."""
    with contextlib.suppress(ImportError, AttributeError):
        import pydevd

        debugger = pydevd.get_global_debugger()
        if debugger is not None:
            debugger.ready_to_run = True
