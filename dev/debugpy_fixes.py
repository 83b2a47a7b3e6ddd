"""Workarounds for debugpy bugs, and every other use of debugpy's internals in berth.

Each fix was written against debugpy ``TESTED_WITH``. Each one checks that the internals it
replaces still exist and does nothing otherwise; ``stale()`` names what no longer fits (a newer
version, a renamed internal) and a unit test fails on it, so an upgrade gets looked at. What each
bug is, and the text of an upstream report, is in docs/debugger.md.

Besides the fixes, berth relies on three more things debugpy does not document, each here:
the adapter's command line (``adapter_pid``), pydevd's replacement of ``os.execv`` (``execv``)
and pydevd's preimport hook (``preimport_in_children``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

TESTED_WITH = "1.8.22"
# The real os.execv, taken before debugpy listens: pydevd then replaces it, to inject itself
# into the new program, which must not happen to a restart in place.
execv = os.execv


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

    def adapter_command_line():
        import inspect

        from debugpy.adapter import __main__ as adapter

        source = inspect.getsource(adapter._parse_argv)
        if '"--for-server"' not in source or '"--port"' not in source:
            raise AttributeError("the adapter no longer takes --for-server and --port")
        return adapter._parse_argv

    def execv_replaced():
        import debugpy._vendored.force_pydevd  # noqa: F401
        from _pydev_bundle import pydev_monkey

        return pydev_monkey.patch_new_process_functions, pydev_monkey.create_execv

    def request_respond():
        from debugpy.common import messaging

        return messaging.Request.respond

    def notify_of_subprocess():
        from debugpy.adapter import clients

        return clients.Client.notify_of_subprocess

    def server_connections():
        from debugpy.adapter import servers

        return servers.Connection.authenticate, servers.connections

    def wait_for_connection():
        from debugpy.adapter import servers

        _sets(servers.Connection, "server")
        return servers.wait_for_connection

    def session_finalize():
        from debugpy.adapter import clients, sessions

        _sets(clients.Client, "known_subprocesses")
        return sessions.Session.finalize

    def run_thread():
        import debugpy._vendored.force_pydevd  # noqa: F401
        import pydevd
        from _pydevd_bundle import pydevd_thread_lifecycle

        return pydevd_thread_lifecycle.internal_run_thread, pydevd.PyDB.get_internal_queue_and_event

    def ready_to_run():
        import debugpy._vendored.force_pydevd  # noqa: F401
        import pydevd

        _sets(pydevd.PyDB, "ready_to_run")
        return pydevd.get_global_debugger

    return {
        "debugpy.common.sockets.serve": adapter_serve,
        "debugpy.adapter.clients.Client.report_sockets": report_sockets,
        "debugpy.common.messaging.NoMoreMessages": no_more_messages,
        "pydevd NetCommand.send": net_command_send,
        "pydevd PydevdCustomization.PREIMPORT": preimport,
        "debugpy.adapter.__main__.main": adapter_main,
        "the adapter's --for-server and --port": adapter_command_line,
        "pydevd's os.execv (pydev_monkey.create_execv)": execv_replaced,
        "debugpy.common.messaging.Request.respond": request_respond,
        "debugpy.adapter.clients.Client.notify_of_subprocess": notify_of_subprocess,
        "debugpy.adapter.servers.Connection.authenticate": server_connections,
        "debugpy.adapter.servers.wait_for_connection": wait_for_connection,
        "debugpy.adapter.sessions.Session.finalize": session_finalize,
        "pydevd PyDB.ready_to_run": ready_to_run,
        "pydevd internal_run_thread": run_thread,
    }


def _sets(cls: type, attribute: str) -> None:
    """Raise unless ``cls.__init__`` sets ``attribute`` (an instance attribute: no class one)."""
    import inspect

    if f"self.{attribute} =" not in inspect.getsource(cls.__init__):
        raise AttributeError(f"{cls.__name__} has no {attribute}")


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


def drop_responses_to_gone_clients() -> None:
    """A response to a client that has closed its socket cannot be delivered; debugpy's
    adapter dies of trying. ``Client.disconnect_request`` calls ``request.respond({})`` after
    finalizing the session; when the editor sent ``disconnect`` and closed at once (a window
    reloaded or closed, a script that detaches), that write raises ``NoMoreMessages``. The
    handler wrapper turns it into ``cant_handle``, which responds again, raises again, and the
    handler thread ends the process with ``os._exit(1)``. The same happens to any request whose
    client goes mid-way (a crash during ``attach``). Drop such a response, as debugpy already
    does for a handler's return value ("Channel was closed before the response ...")."""
    from debugpy.common import log, messaging

    respond = messaging.Request.respond
    if getattr(respond, "berth_guarded", False):
        return

    def tolerant_respond(self, body):
        try:
            respond(self, body)
        except messaging.NoMoreMessages as exc:
            if exc.stream is not self.channel.stream:
                raise
            log.info("{0} is closed; dropped the response to {1}", self.channel, self.describe())
            # Recorded as respond() records it, so that the handler's own checks hold.
            self.response = messaging.Response(self.channel, -1, self, {} if body is None else body)

    tolerant_respond.berth_guarded = True
    messaging.Request.respond = tolerant_respond


def follow_only_when_asked() -> None:
    """An editor whose ``attach`` says ``"subProcess": false`` still has every new process of
    the debuggee announced to it, and debugpy holds that process until the editor attaches to
    it, which it never will: the app does not run until something releases it. (debugpy
    documents ``subProcess`` for ``launch`` and for ``debugpy.configure()``; in an ``attach``
    it is ignored.) Honour it: do not announce the process, and release it at once, as the
    adapter does when no client is attached at all ("No clients to wait for")."""
    from debugpy.adapter import clients
    from debugpy.common import log

    notify = clients.Client.notify_of_subprocess
    if getattr(notify, "berth_guarded", False):
        return

    def notify_of_subprocess(self, conn):
        start = self.start_request
        if start is None or start.arguments.get("subProcess", True) is not False:
            return notify(self, conn)
        with self.session:
            if conn in self.known_subprocesses:
                return None
            self.known_subprocesses.add(conn)
        log.info('{0} said "subProcess": false; releasing {1} unannounced', self, conn)
        # At once, before this client's next message is handled: an editor that attaches next
        # must not meet a release still under way. The server's answers do not need the
        # session lock the caller may hold (an unattached connection handles them itself).
        release_server(conn)
        return None

    notify_of_subprocess.berth_guarded = True
    clients.Client.notify_of_subprocess = notify_of_subprocess


def release_server(conn) -> None:
    """Let a debuggee that waits for a client run, as the adapter's ``servers.Connection`` does
    for a subprocess that no client will be told about. Harmless for one that runs already (it
    was debugged before): the same requests as an editor that attaches and leaves. pydevd wants
    to be authorized again after a session's ``disconnect``, hence ``authenticate()`` first. A
    failure leaves the connection open, so that an editor can still attach to that process."""
    from debugpy.common import log

    try:
        conn.authenticate()
        conn.channel.request("initialize", {"adapterID": "debugpy"})
        conn.channel.request("attach", {"subProcessId": conn.pid})
        conn.channel.request("configurationDone")
        conn.channel.request("disconnect")
    except Exception:
        log.swallow_exception("Failed to release {0}:", conn)


def attach_after_the_last_session_ends(grace: float = 5.0) -> None:
    """An editor that attaches right after another left without waiting (``disconnect`` and
    close, a crash, a crash mid-``attach``) is refused: "Server[pid=...] is already being
    debugged". ``attach_request`` takes the oldest server connection (the supervisor), which
    the last session still holds: until the adapter has read the end of that editor's socket,
    and while the session finalizes (it waits for pydevd to answer its ``disconnect``, then
    detaches). Wait, a bounded while, for the other session to let go. Two editors on one
    process at once are still refused, ``grace`` later."""
    import time

    from debugpy.adapter import servers

    wait = servers.wait_for_connection
    if getattr(wait, "berth_guarded", False):
        return

    def wait_for_connection(session, predicate, timeout=None):
        conn = wait(session, predicate, timeout)
        deadline = time.monotonic() + grace
        while conn is not None and time.monotonic() < deadline:
            server = conn.server
            if server is None or server.session is session:
                break
            time.sleep(0.01)
        return conn

    wait_for_connection.berth_guarded = True
    servers.wait_for_connection = wait_for_connection


def release_what_a_leaving_client_was_told() -> None:
    """A subprocess announced to a client is held until that client attaches to it. A client
    that leaves first (an editor that detaches, or closes, just as a reload starts a new app
    process) never will, and the adapter, which releases a subprocess when no client is there
    to be told ("No clients to wait for"), does not release one whose client has gone: it waits
    for the claim timeout (``dev.debugger.CLAIM_TIMEOUT``), and a save that lands on it waits
    too. When a session ends, release each subprocess its client was told of that no session
    is attached to. A later editor is told of it again and can still attach."""
    from debugpy.adapter import servers, sessions
    from debugpy.common import log

    finalize = sessions.Session.finalize
    if getattr(finalize, "berth_guarded", False):
        return

    def finalize_and_release(self, why, terminate_debuggee=None):
        finalize(self, why, terminate_debuggee)
        told = list(getattr(self.client, "known_subprocesses", None) or ())
        running = servers.connections()
        for conn in told:
            if conn.server is None and conn in running:
                log.info("{0} has ended; releasing {1}, which it was told of", self, conn)
                release_server(conn)

    finalize_and_release.berth_guarded = True
    sessions.Session.finalize = finalize_and_release


ADAPTER_FIXES = (
    guard_adapter_accept,
    drop_responses_to_gone_clients,
    follow_only_when_asked,
    attach_after_the_last_session_ends,
    release_what_a_leaving_client_was_told,
)


def run_adapter() -> None:
    """Run debugpy's adapter with berth's fixes: the entry of the adapter process (see
    ``dev.debugger.adapter_launcher``). debugpy runs ``python <adapter folder> <arguments>``;
    here ``sys.argv[1:]`` is that folder and those arguments."""
    from debugpy.adapter.__main__ import main

    for fix in ADAPTER_FIXES:
        with contextlib.suppress(ImportError, AttributeError):
            fix()
    del sys.argv[0]
    main()


def adapter_pid(port: int) -> int | None:
    """The pid of the adapter ``debugpy.listen()`` started for ``port``, from its command line
    (it daemonizes, so it is nobody's known child)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "--for-server" in args and "--port" in args:
            with contextlib.suppress(IndexError):
                if args[args.index("--port") + 1] == str(port):
                    return int(entry.name)
    return None


# -- debugged processes (the supervisor and each app process) -----------------------------------


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


def wake_resumed_threads() -> None:
    """pydevd resumes a thread stopped at a breakpoint (``continue``) by setting its state and
    calling ``update_stepping_info()``, which is meant to wake the thread's wait; but
    ``_update_stepping_info`` wakes the thread of the last entry its loops went through (the loop
    variable ``info`` shadows its parameter), so the stopped thread sees the change only when its
    0.2 s wait (TIMEOUT_SLOW) runs out: each Continue took up to 0.2 s more in an app process
    with a few threads. Wake the resumed thread itself."""
    with contextlib.suppress(ImportError, AttributeError):
        import debugpy._vendored.force_pydevd  # noqa: F401
        from _pydevd_bundle import pydevd_thread_lifecycle as lifecycle
        from _pydevd_bundle.pydevd_constants import get_global_debugger, get_thread_id

        run_thread = lifecycle.internal_run_thread
        if getattr(run_thread, "berth_guarded", False):
            return

        def run_and_wake(thread, set_additional_thread_info):
            run_thread(thread, set_additional_thread_info)
            debugger = get_global_debugger()
            if debugger is not None and not debugger.pydb_disposed:
                _queue, event = debugger.get_internal_queue_and_event(get_thread_id(thread))
                event.set()

        run_and_wake.berth_guarded = True
        run_and_wake.__wrapped__ = run_thread
        lifecycle.internal_run_thread = run_and_wake


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
