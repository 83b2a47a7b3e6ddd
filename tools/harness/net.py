"""HTTP to containers through ports published on 127.0.0.1, and free ports to publish on.

Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import http.client as http_client
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 (all held open together while picking, so the
    OS cannot hand out the same one twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port() -> int:
    return free_ports(1)[0]


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(
    method: str, url: str, payload: object | None = None, *, timeout: float = 5
) -> HttpResponse:
    """One HTTP request with a JSON body; 4xx/5xx are returned, not raised."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResponse(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpResponse(error.code, dict(error.headers), error.read())


def wait_for_http(
    url: str,
    *,
    timeout: float = 60,
    expect: int = 200,
    body_contains: bytes | None = None,
    check: Callable[[HttpResponse], bool] | None = None,
    interval: float = 0.1,
) -> tuple[HttpResponse, float]:
    """Poll `url` until it answers `expect` (and contains `body_contains`, and passes `check`);
    bounded by `timeout`. Returns the answer and the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = http("GET", url, timeout=min(3, max(0.1, deadline - time.monotonic())))
            if (
                answer.status == expect
                and (body_contains is None or body_contains in answer.body)
                and (check is None or check(answer))
            ):
                return answer, time.monotonic() - start
            last = f"{answer.status} {answer.body[:200]!r}"
        except (OSError, http_client.HTTPException) as error:  # refused, reset: not up yet
            last = error
        time.sleep(interval)
    raise AssertionError(f"{url} did not answer {expect} within {timeout} s; last: {last}")


def raw_request(
    port: int, method: str, path: str, body=None, headers=None, chunked: bool = False
) -> tuple[int, http_client.HTTPMessage, bytes]:
    """One request exactly as given (any method, raw bytes, chunked framing) to 127.0.0.1:port;
    returns (status, headers, body), whatever the status."""
    conn = http_client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if chunked:
            conn.request(method, path, body=iter(body), headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes to 127.0.0.1:port, return everything the server answers before it closes
    (bounded in size and time): for requests no HTTP client would send."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if len(answer) > 1_000_000:
                break
    return answer
