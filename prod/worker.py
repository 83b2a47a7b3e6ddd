"""The worker class of the prod server: gevent for the connections, threads for the app.

Each connection is a greenlet: reading a request (headers, then the whole body, up to one byte
past MAX_BODY_BYTES) costs no thread, however slowly the client sends it. Only a complete
request goes to the app, in one of GUNICORN_THREADS native threads of the worker: SQLite and
Flask block (an fsync at each commit, CPU for JSON), and in a greenlet they would stop every
other connection of the worker; in a thread they wait alone and release the GIL, as they did
under the gthread worker. The app's answer is collected in the thread and sent by the
greenlet. (So responses are buffered whole: fine for this JSON API, not for streaming.)

The stop: gunicorn's GeventWorker (gunicorn 27) notices a stop only in a 1 s sleep, then waits
in 1 s steps for every open connection, idle kept-alive ones included, which stay until their
keepalive timeout: `docker stop` took about keepalive + 1 s whenever a client (a browser, a
proxy's pool) held a connection. This worker notices the stop within POLL seconds, answers
requests in progress (up to graceful_timeout), and closes connections that wait for a
request after STOP_LINGER seconds, as gunicorn's gthread worker does (its linger: 2 s).

Upstream report, in short: "gevent worker: graceful stop waits for idle keep-alive connections
up to keepalive, polling in 1 s steps; gthread closes them after STOP_LINGER".

Request ids (app/request_id.py): each request's id is set in its connection's greenlet before
gunicorn builds the environ, so that every line logged for it (the body read, the access line,
an error) has it, and the app runs in a copy of that greenlet's context: a gevent ThreadPool
thread has a context of its own, in which the id would be unknown. The requests gunicorn
refuses itself (a malformed request line, a header too long, broken chunked framing) are
answered in the app's JSON error shape with an id too (`write_error`).
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer
from gevent.threadpool import ThreadPool
from gunicorn import util
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from app import request_id
from app.config import MAX_BODY_BYTES
from app.errors import error_document

# A stopping worker keeps idle connections this long, for a request already on its way; on a
# LAN or behind a proxy on the same host, that takes milliseconds.
STOP_LINGER = 0.3
# How often the worker looks whether it should stop, and whether requests are done.
POLL = 0.1


class WholeRequests:
    """WSGI wrapper: read the whole request in the calling greenlet, run the app in a thread."""

    def __init__(self, app: Callable, threads: int, max_body_bytes: int) -> None:
        self.app = app
        self.pool = ThreadPool(threads)
        # One byte more than the app accepts: enough for it to see that a body is too large.
        self.read_limit = max_body_bytes + 1

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["wsgi.input"] = io.BytesIO(self._body(environ))
        if (known := request_id.current.get()) is not None:
            environ[request_id.ENVIRON_KEY] = known  # given by Worker.handle_request
        started: list = []
        context = contextvars.copy_context()
        body = self.pool.apply(context.run, (self._run_app, environ, started))
        start_response(*started)
        return [body]

    def _body(self, environ: dict) -> bytes:
        length = environ.get("CONTENT_LENGTH", "")
        if length.isdigit() and int(length) > self.read_limit:
            return b""  # the app refuses it (413) from the header alone
        # gunicorn's body reader (Content-Length or chunked) blocks this greenlet only.
        return environ["wsgi.input"].read(self.read_limit)

    def _run_app(self, environ: dict, started: list) -> bytes:
        written: list[bytes] = []

        def capture(status: str, headers: list, exc_info=None) -> Callable[[bytes], None]:
            started[:] = [status, headers, exc_info]
            return written.append

        result = self.app(environ, capture)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return b"".join(written)


def header(req: object, name: str) -> str | None:
    """A request header as gunicorn parsed it (several: joined by commas), None if absent."""
    values = [value for key, value in getattr(req, "headers", ()) if key == name.upper()]
    return ",".join(values) if values else None


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """In place of gunicorn's util.write_error, which answers what gunicorn refuses itself with
    an HTML page and no way to add a header: the app's JSON error and the request's id.
    Upstream report, in short: "handle_error: let a worker class choose the error response's
    headers and body"."""
    body = json.dumps(error_document(status_int, mesg or reason)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"{request_id.HEADER}: {request_id.current.get() or request_id.new()}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class Worker(GeventWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Greenlets waiting for the (next) request of their connection, and their timeout.
        self.waiting: dict[gevent.Greenlet, gevent.Timeout] = {}

    def init_process(self) -> None:
        # gunicorn looks it up at each use (base.py: util.write_error), in this process only.
        util.write_error = write_error
        super().init_process()

    def handle_request(self, listener_name, req, sock, addr) -> None:
        """Each request with its id, from the environ's making to its access line."""
        req.request_id = request_id.from_header(header(req, request_id.HEADER))
        token = request_id.current.set(req.request_id)
        try:
            super().handle_request(listener_name, req, sock, addr)
        finally:
            request_id.current.reset(token)

    def handle_error(self, req, client, addr, exc) -> None:
        """A request gunicorn refuses, or whose handling failed: with the id it had, or a new
        one (one from a request that could not be parsed is not trusted)."""
        known = getattr(req, "request_id", None)
        token = request_id.current.set(known or request_id.new())
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            request_id.current.reset(token)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        max_body = MAX_BODY_BYTES.get(os.environ)
        self.wsgi = WholeRequests(self.wsgi, self.cfg.threads, max_body)

    @contextlib.contextmanager
    def timeout_ctx(self) -> Iterator[None]:
        """Around reading each request's head (AsyncWorker.handle): the keepalive timeout,
        silent (an expired wait just ends the connection), known to the stop below."""
        seconds = self.cfg.keepalive if self.alive else STOP_LINGER
        current = gevent.getcurrent()
        with gevent.Timeout(seconds, False) as timeout:
            self.waiting[current] = timeout
            try:
                yield
            finally:
                self.waiting.pop(current, None)

    def run(self) -> None:
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        servers = []
        for sock in self.sockets:
            sock.setblocking(1)
            server = StreamServer(
                sock,
                handle=partial(self.handle, sock),
                spawn=Pool(self.worker_connections),
                **ssl_args,
            )
            if self.cfg.workers > 1:
                # One connection per wake-up, as gunicorn does: the workers share the load.
                server.max_accept = 1
            server.start()
            servers.append(server)

        while self.alive:
            self.notify()
            gevent.sleep(POLL)

        for server in servers:
            server.close()
        gevent.spawn_later(STOP_LINGER, self._end_waits)
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while any(s.pool.free_count() != s.pool.size for s in servers):
            if time.monotonic() > deadline:
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                for server in servers:
                    server.stop(timeout=1)
                return
            self.notify()
            gevent.sleep(POLL)

    def _end_waits(self) -> None:
        """Expire the timeout of every connection still waiting for a request: its handler
        leaves the wait as after a keepalive timeout and closes the connection."""
        for greenlet, timeout in list(self.waiting.items()):
            greenlet.kill(timeout, block=False)
