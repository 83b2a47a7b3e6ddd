"""A small Debug Adapter Protocol client for driving debugpy the way VS Code does.

Only the standard library is used. Every wait has a timeout; no loop runs unbounded.

``DapClient`` is one DAP connection (Content-Length framed JSON over TCP): ``request()`` sends a
request and returns the response body (raising ``DapError`` on ``success: false``), events are
buffered and picked with ``wait_event()``, reverse requests from the adapter (``startDebugging``,
``runInTerminal``) are answered by a handler.

``DebugSession`` reproduces VS Code's "attach" flow against ``debugpy.listen()`` with subprocess
support. How debugpy 1.8 reports a child process (``debugpy/adapter/clients.py``,
``Client.notify_of_subprocess``): when the child's pydevd connects to the adapter, the adapter
tells the client attached to the parent either

* with a ``startDebugging`` reverse request ``{"request": "attach", "configuration": cfg}`` if the
  client's ``initialize`` said ``supportsStartDebuggingRequest: true`` (VS Code does), or
* with a ``debugpyAttach`` event whose body is ``cfg`` otherwise.

``cfg`` is the parent's attach arguments plus ``subProcessId`` and ``connect`` (the adapter's
client address, as the parent client reached it). The client opens a NEW connection to that
address and runs ``initialize`` / ``attach(cfg)`` / ``setBreakpoints`` / ``configurationDone``
on it. Until ``configurationDone`` arrives the child is held before running user code, so
children must be followed promptly: ``DebugSession`` does it on a background thread. After a
Werkzeug reload the old child's connection ends (``terminated``) and a new child is announced on
the parent connection the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]


class DapError(RuntimeError):
    """A failed request, a timeout, or a closed connection."""


class Ended(DapError):
    """The adapter ended the session (``terminated``) before it was configured: the app
    process it was for had gone by the time the attach reached the adapter. debugpy answers
    such an attach with success and ``terminated``, never ``initialized``
    (``Client.attach_request``: "No known subprocess"), and waits for the client's
    ``disconnect``, as VS Code sends it."""


class DapClient:
    def __init__(self, sock: socket.socket, name: str = "dap") -> None:
        self.name = name
        self._sock = sock
        self._seq = itertools.count(1)
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._responses: dict[int, Message] = {}
        self._events: deque[Message] = deque(maxlen=5000)
        self._closed = False
        self.close_reason = ""
        # Called on the reader thread for every event (after buffering it).
        self.on_event: Callable[[DapClient, Message], None] | None = None
        # command -> handler(client, request) returning the response body (None: not handled).
        self.reverse_handlers: dict[str, Callable[[DapClient, Message], Mapping | None]] = {}
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-reader", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 10.0, name: str = "dap") -> DapClient:
        """Connect, retrying refused connections until ``timeout`` (the adapter may be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((host, port), timeout=max(0.1, timeout))
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise DapError(f"cannot connect to {host}:{port}: {exc}") from exc
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, name)

    # -- wire ------------------------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        data = json.dumps(message).encode()
        with self._send_lock:
            if self._closed:
                raise DapError(f"{self.name}: connection closed ({self.close_reason})")
            self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(data) + data)

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are, e.g. half a message."""
        with self._send_lock:
            self._sock.sendall(data)

    def _read_loop(self) -> None:
        stream = self._sock.makefile("rb")
        reason = "adapter closed the connection"
        try:
            while True:
                length = None
                while True:  # headers, ended by an empty line
                    line = stream.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    key, _, value = line.decode("ascii").partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value)
                if length is None:
                    reason = "message without Content-Length"
                    return
                body = stream.read(length)
                if len(body) < length:
                    return
                self._dispatch(json.loads(body))
        except (OSError, ValueError) as exc:
            reason = f"read failed: {exc!r}"
        finally:
            with self._cond:
                if not self._closed:
                    self._closed = True
                    self.close_reason = reason
                self._cond.notify_all()

    def _dispatch(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "response":
            with self._cond:
                self._responses[message["request_seq"]] = message
                self._cond.notify_all()
        elif kind == "event":
            with self._cond:
                self._events.append(message)
                self._cond.notify_all()
            if self.on_event is not None:
                self.on_event(self, message)
        elif kind == "request":
            handler = self.reverse_handlers.get(message["command"])
            body = handler(self, message) if handler else None
            response: Message = {
                "type": "response",
                "seq": next(self._seq),
                "request_seq": message["seq"],
                "command": message["command"],
                "success": body is not None,
            }
            if body is None:
                response["message"] = f"{message['command']} not supported by this client"
            else:
                response["body"] = dict(body)
            with contextlib.suppress(DapError, OSError):
                self._send(response)

    # -- API -------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def send_request(self, command: str, arguments: Mapping | None = None) -> int:
        """Send a request without waiting; returns its seq for ``wait_response()``."""
        seq = next(self._seq)
        message: Message = {"type": "request", "seq": seq, "command": command}
        if arguments is not None:
            message["arguments"] = dict(arguments)
        self._send(message)
        return seq

    def wait_response(self, seq: int, command: str = "", timeout: float = 10.0) -> Message:
        """The body of the response to ``seq``; ``DapError`` on failure, timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while seq not in self._responses:
                remaining = deadline - time.monotonic()
                if self._closed:
                    raise DapError(
                        f"{self.name}: closed before {command!r} response ({self.close_reason})"
                    )
                if remaining <= 0:
                    raise DapError(f"{self.name}: no {command!r} response in {timeout}s")
                self._cond.wait(remaining)
            response = self._responses.pop(seq)
        if not response.get("success"):
            raise self._failure(response)
        return response.get("body") or {}

    def _failure(self, response: Message) -> DapError:
        detail = response.get("message") or ""
        error = (response.get("body") or {}).get("error") or {}
        if error.get("format"):
            detail = f"{detail}: {error['format']}"
        return DapError(f"{self.name}: {response.get('command')} failed: {detail}")

    def request(self, command: str, timeout: float = 10.0, **arguments: Any) -> Message:
        """Send ``command`` with ``arguments`` and return the response body. (For an argument
        named ``timeout`` or ``command``, use ``send_request()`` and ``wait_response()``.)"""
        seq = self.send_request(command, arguments)
        return self.wait_response(seq, command, timeout)

    def wait_event(
        self,
        name: str,
        timeout: float = 10.0,
        predicate: Callable[[Message], bool] | None = None,
        unless_failed: int | None = None,
        unless_ended: bool = False,
    ) -> Message:
        """Remove and return the body of the first buffered or future event ``name``; with
        ``unless_failed`` (a request's seq), ``DapError`` as soon as that request fails; with
        ``unless_ended``, ``Ended`` as soon as a ``terminated`` event comes instead."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                failed = self._responses.get(unless_failed)
                if failed is not None and not failed.get("success"):
                    raise self._failure(self._responses.pop(unless_failed))
                if unless_ended and any(m.get("event") == "terminated" for m in self._events):
                    raise Ended(f"{self.name}: terminated while waiting for {name!r} event")
                for message in self._events:
                    body = message.get("body") or {}
                    if message.get("event") == name and (predicate is None or predicate(body)):
                        self._events.remove(message)
                        return body
                remaining = deadline - time.monotonic()
                if self._closed:
                    raise DapError(
                        f"{self.name}: closed while waiting for {name!r} event "
                        f"({self.close_reason})"
                    )
                if remaining <= 0:
                    raise DapError(f"{self.name}: no {name!r} event in {timeout}s")
                self._cond.wait(remaining)

    def close(self) -> None:
        with self._cond:
            if not self._closed:
                self._closed = True
                self.close_reason = "closed by client"
            self._cond.notify_all()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=2)


def initialize_arguments(start_debugging: bool = True) -> dict[str, Any]:
    """What VS Code sends (adapterID as the Python extension uses it)."""
    return {
        "clientID": "vscode",
        "clientName": "Visual Studio Code",
        "adapterID": "debugpy",
        "pathFormat": "path",
        "linesStartAt1": True,
        "columnsStartAt1": True,
        "supportsVariableType": True,
        "supportsVariablePaging": True,
        "supportsRunInTerminalRequest": False,
        "supportsMemoryReferences": True,
        "supportsProgressReporting": True,
        "supportsInvalidatedEvent": True,
        "supportsMemoryEvent": True,
        "supportsArgsCanBeInterpretedByShell": True,
        "supportsStartDebuggingRequest": start_debugging,
        "locale": "en",
    }


# How an editor leaves a session:
# - "disconnect": VS Code's Stop: ``disconnect``, its response, then the socket closes;
# - "disconnect-and-close": ``disconnect`` and the socket closed at once, without waiting for the
#   response (a window reloaded or closed, a script that detaches);
# - "close": the sockets just close (an editor that crashes or is killed);
# - "half-message": the editor dies in the middle of writing a message.
LEAVINGS = ("disconnect", "disconnect-and-close", "close", "half-message")


class DebugSession:
    """VS Code-like attach to ``debugpy.listen()``, following subprocesses (reloader children).

    ``breakpoints`` maps LOCAL file paths to line numbers; ``path_mappings`` lets the adapter map
    them to the debuggee's paths. Use as a context manager, or call ``start()`` / ``close()``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        breakpoints: Mapping[str, Iterable[int]],
        path_mappings: Iterable[Mapping[str, str]] = (),
        timeout: float = 10.0,
        start_debugging: bool = True,
        just_my_code: bool = True,
        follow_children: bool = True,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.start_debugging = start_debugging
        self.breakpoints = {path: sorted(lines) for path, lines in breakpoints.items()}
        self.attach_arguments: dict[str, Any] = {
            "name": "Attach to berth dev server",
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": host, "port": port},
            "pathMappings": [dict(m) for m in path_mappings],
            "justMyCode": just_my_code,
            "subProcess": follow_children,
        }
        # False: a client that records child announcements and never attaches to them.
        self.follow_children = follow_children
        self.parent: DapClient | None = None
        self.children: dict[int, DapClient] = {}  # subProcessId -> connection
        self.child_announcements: list[tuple[str, int]] = []  # (how, subProcessId)
        self.verified: dict[int, list[dict]] = {}  # subProcessId -> setBreakpoints result
        self.errors: list[str] = []
        self._pending: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stops: queue.Queue[tuple[DapClient, Message]] = queue.Queue()
        self._stopped_client: DapClient | None = None
        self._closing = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="dap-follower", daemon=True)
        self._lock = threading.Lock()
        self._attaching: list[threading.Thread] = []
        self._given_up: set[int] = set()  # children whose attach failed or that have gone
        self.gone: set[int] = set()  # children that had exited when their attach arrived
        self._stages: dict[int, str] = {}  # subProcessId -> how far its attach got, for errors

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> DebugSession:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        self.parent = DapClient.connect(self.host, self.port, self.timeout, name="parent")
        self.parent.reverse_handlers["startDebugging"] = self._on_start_debugging
        self.parent.on_event = self._on_parent_event
        self._follower.start()
        self._attach(self.parent, self.attach_arguments)

    def close(self, how: str = "disconnect") -> None:
        """End the session the way an editor does (one of ``LEAVINGS``)."""
        if how not in LEAVINGS:
            raise ValueError(f"how={how!r}: choose from {', '.join(LEAVINGS)}")
        self._closing.set()
        if self._follower.is_alive():
            self._follower.join(timeout=self.timeout)
        for attaching in self._attaching:  # so that no child connection outlives the session
            attaching.join(timeout=self.timeout)
        with self._lock:
            clients = [*self.children.values(), self.parent]
        for client in clients:
            if client is None or client.closed:
                continue
            with contextlib.suppress(DapError, OSError):
                if how == "disconnect":
                    client.request("disconnect", timeout=2, terminateDebuggee=False)
                elif how == "disconnect-and-close":
                    client.send_request("disconnect", {"terminateDebuggee": False})
                elif how == "half-message":
                    client.send_raw(b'Content-Length: 200\r\n\r\n{"seq": 99, "type": "requ')
            client.close()

    # -- the attach flow (same for the parent and each child) ------------------------------------

    def _attach(
        self,
        client: DapClient,
        arguments: Mapping[str, Any],
        stage: Callable[[str], object] = lambda _: None,
    ) -> list[dict]:
        stage("initialize")
        client.request("initialize", self.timeout, **initialize_arguments(self.start_debugging))
        # debugpy answers "attach" only after "configurationDone": send it, then configure.
        attach_seq = client.send_request("attach", arguments)
        stage("initialized")
        # A refused attach ("already being debugged") is answered instead of "initialized";
        # one to an app process that has gone ends with "terminated".
        client.wait_event("initialized", self.timeout, unless_failed=attach_seq, unless_ended=True)
        stage("setBreakpoints")
        verified = []
        for path, lines in self.breakpoints.items():
            body = client.request(
                "setBreakpoints",
                self.timeout,
                source={"path": path},
                breakpoints=[{"line": line} for line in lines],
                lines=lines,
                sourceModified=False,
            )
            verified += body.get("breakpoints", [])
        client.request("setExceptionBreakpoints", self.timeout, filters=[])
        stage("configurationDone")
        client.request("configurationDone", self.timeout)
        stage("attach response")
        client.wait_response(attach_seq, "attach", self.timeout)
        stage("done")
        return verified

    def announced(self, how: str, config: Mapping[str, Any]) -> None:
        """The adapter told of a child (``how``: startDebugging or debugpyAttach): follow it."""
        self.child_announcements.append((how, config.get("subProcessId")))
        self._pending.put(dict(config))

    def _on_start_debugging(self, client: DapClient, request: Message) -> Mapping:
        self.announced("startDebugging", request["arguments"]["configuration"])
        return {}

    def _on_parent_event(self, client: DapClient, event: Message) -> None:
        if event.get("event") == "debugpyAttach":
            self.announced("debugpyAttach", event.get("body") or {})
        elif event.get("event") == "stopped":
            self._stops.put((client, event.get("body") or {}))

    def _on_child_event(self, client: DapClient, event: Message) -> None:
        if event.get("event") == "stopped":
            self._stops.put((client, event.get("body") or {}))

    def _follow(self) -> None:
        """Background thread: attach to every announced child at once, like VS Code does (one
        slow attach must not delay the next child)."""
        while not self._closing.is_set():
            try:
                config = self._pending.get(timeout=0.1)
            except queue.Empty:
                self._reap_children()
                continue
            if self.follow_children:
                attaching = threading.Thread(
                    target=self._attach_child, args=(config,), name="dap-child", daemon=True
                )
                self._attaching.append(attaching)
                attaching.start()

    def _attach_child(self, config: dict[str, Any]) -> None:
        sub_pid = config.get("subProcessId")
        connect = config.get("connect") or {}
        try:
            child = DapClient.connect(
                connect.get("host", self.host),
                int(connect.get("port", self.port)),
                self.timeout,
                name=f"child-{sub_pid}",
            )
        except DapError as exc:
            self.errors.append(str(exc))
            self._given_up.add(sub_pid)
            return
        child.on_event = self._on_child_event
        with self._lock:
            self.children[sub_pid] = child
        try:
            verified = self._attach(
                child, config, stage=lambda s: self._stages.update({sub_pid: s})
            )
            with self._lock:
                self.verified[sub_pid] = verified
        except Ended:  # gone since it was announced: not an error; answered as VS Code does
            with self._lock:
                self.gone.add(sub_pid)
                self._given_up.add(sub_pid)
            with contextlib.suppress(DapError, OSError):
                child.send_request("disconnect", {"terminateDebuggee": False})
            child.close()
        except Exception as exc:  # keep following later children; the test sees .errors
            self.errors.append(f"attach to subprocess {sub_pid}: {exc!r}")
            self._given_up.add(sub_pid)
            child.close()

    def _reap_children(self) -> None:
        with self._lock:
            gone = [pid for pid, c in self.children.items() if c.closed]
            for pid in gone:
                del self.children[pid]
                self._given_up.add(pid)

    # -- stepping --------------------------------------------------------------------------------

    def wait_child(self, timeout: float | None = None, at_least: int = 1) -> int:
        """Wait until every announced child that is still there is attached and configured (the
        app process and its standbys), and at least ``at_least`` are; return the newest one's
        subProcessId."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            with self._lock:
                ready = [pid for pid in self.children if pid in self.verified]
                pending = [
                    pid
                    for _, pid in self.child_announcements
                    if pid not in self.verified and pid not in self._given_up
                ]
            if len(ready) >= at_least and not pending:
                return ready[-1]
            time.sleep(0.02)
        waiting = {pid: self._stages.get(pid, "connect") for pid in pending}
        raise DapError(
            f"children attached in {timeout or self.timeout}s: {ready} (at least {at_least} "
            f"wanted), still attaching (subProcessId: waiting for): {waiting}; gone: "
            f"{sorted(self.gone)}; errors: {self.errors}"
        )

    def wait_stopped(self, timeout: float | None = None) -> tuple[int, dict]:
        """Wait for a ``stopped`` event in any process; return (thread id, top stack frame)."""
        try:
            client, body = self._stops.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise DapError(
                f"no stopped event in {timeout or self.timeout}s; errors: {self.errors}"
            ) from None
        thread_id = body["threadId"]
        trace = client.request("stackTrace", self.timeout, threadId=thread_id, levels=1)
        self._stopped_client = client
        return thread_id, trace["stackFrames"][0]

    def _client(self) -> DapClient:
        if self._stopped_client is None:
            raise DapError("not stopped")
        return self._stopped_client

    def variables(self, frame: Mapping[str, Any]) -> dict[str, str]:
        """The frame's local variables as name -> repr string (as the editor shows them)."""
        client = self._client()
        scopes = client.request("scopes", self.timeout, frameId=frame["id"])["scopes"]
        local = next(s for s in scopes if s["name"].lower().startswith("local"))
        variables = client.request(
            "variables", self.timeout, variablesReference=local["variablesReference"]
        )["variables"]
        return {v["name"]: v["value"] for v in variables}

    def evaluate(self, frame: Mapping[str, Any], expression: str) -> str:
        return self._client().request(
            "evaluate", self.timeout, expression=expression, frameId=frame["id"], context="watch"
        )["result"]

    def continue_(self, thread_id: int) -> None:
        self._client().request("continue", self.timeout, threadId=thread_id)
        self._stopped_client = None

    def break_during(
        self, call: Callable[[], Any], evaluate: Iterable[str] = (), timeout: float | None = None
    ) -> BreakHit:
        """Run ``call`` (e.g. an HTTP request that reaches a breakpoint) in a thread; when the
        debuggee stops, read the top frame's locals and ``evaluate`` each expression in it, note
        whether ``call`` already returned (it should not: the stop holds it), continue, and wait
        for ``call``'s result (its exception is re-raised here)."""
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(call())
            except BaseException as exc:  # handed to the caller below
                outcome.append(exc)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        thread_id, frame = self.wait_stopped(timeout)
        hit = BreakHit(frame, self.variables(frame), {e: self.evaluate(frame, e) for e in evaluate})
        hit.returned_while_stopped = bool(outcome)
        self.continue_(thread_id)
        worker.join(timeout or self.timeout)
        if not outcome:
            raise DapError(f"the call did not return within {timeout or self.timeout}s of continue")
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        hit.result = outcome[0]
        return hit


@dataclass
class BreakHit:
    """What ``DebugSession.break_during`` saw at the stop, and what the call returned."""

    frame: dict
    variables: dict[str, str]
    evaluated: dict[str, str]
    returned_while_stopped: bool = False
    result: Any = None
