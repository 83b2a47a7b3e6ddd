"""dev/app_process.py: every response body is closed, so InFlight never counts a request that
has ended, even when the client resets the connection right after the answer."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from dev.app_process import InFlight, closing_handler

REQUESTS = 30


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


@pytest.fixture
def serve() -> Iterator:
    servers = []

    def start(handler: type) -> tuple[InFlight, int]:
        app = InFlight(hello)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return app, server.server_port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answered_then_reset(port: int) -> bytes:
    """A request whose client resets the connection (SO_LINGER 0) as soon as the answer is in,
    while the server may still be reading what is left of the request."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = b""
        while not answer.endswith(b"hello"):
            chunk = client.recv(4096)
            if not chunk:
                break
            answer += chunk
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return answer


def in_flight_after(app: InFlight, port: int) -> int:
    for _ in range(REQUESTS):
        assert answered_then_reset(port).startswith(b"HTTP/1.1 200")
    app.wait_idle(2)  # every request thread has long finished by then
    return app.count


def test_a_reset_after_the_answer_leaves_nothing_in_flight(serve):
    assert in_flight_after(*serve(closing_handler())) == 0


def test_werkzeug_itself_still_skips_close_after_a_reset(serve):
    """The guard: once Werkzeug closes the body itself, this fails; closing_handler() can go."""
    assert in_flight_after(*serve(WSGIRequestHandler)) > 0
