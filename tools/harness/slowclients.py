"""Slow clients and probes: what a server must survive, for the container tests and the bench.

`slow_clients()` keeps N connections open to a server on 127.0.0.1, each sending its request
a few bytes at a time (headers, or a body after complete headers), reconnecting whenever the
server closes one, until the block ends. `probe()` meanwhile sends normal requests, one at a
time, and counts those answered correctly within a deadline. Both are bounded in time and
count, and talk to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

# Every `interval` seconds each slow connection sends `chunk` bytes: a header line trickle
# ("X-a: aaaa...") or a body that takes BODY_BYTES bytes.
BODY_BYTES = 4096


@dataclass
class SlowStats:
    connections_opened: int = 0
    bytes_sent: int = 0
    closed_by_server: int = 0
    refused: int = 0


async def _dribble(port: int, mode: str, interval: float, stop: asyncio.Event, stats: SlowStats):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats.refused += 1
            await asyncio.sleep(interval)
            continue
        stats.connections_opened += 1
        if mode == "headers":
            writer.write(b"GET /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        else:
            writer.write(
                b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n"
                + f"Content-Length: {BODY_BYTES}\r\n\r\n".encode()
                + b'{"title": "slow", "body": "'
            )
        try:
            while not stop.is_set():
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    # Wakes early when the server closes (or answers) the connection.
                    if await asyncio.wait_for(reader.read(1), interval) == b"":
                        stats.closed_by_server += 1
                        break
                writer.write(b"X-Slow: a\r\n" if mode == "headers" else b"a")
                stats.bytes_sent += 1
        except OSError:
            stats.closed_by_server += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.contextmanager
def slow_clients(
    port: int, count: int, *, mode: str = "mixed", interval: float = 1.0
) -> Iterator[SlowStats]:
    """`count` slow connections (half headers, half bodies with mode="mixed") until exit."""
    stats = SlowStats()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        modes = [
            ("headers" if i % 2 == 0 else "body") if mode == "mixed" else mode for i in range(count)
        ]
        tasks = [asyncio.create_task(_dribble(port, m, interval, stop, stats)) for m in modes]
        ready.set()
        await asyncio.gather(*tasks)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(min(2.0, interval * 2))  # let every connection open and start dribbling
    try:
        yield stats
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(interval + 10)
        loop.close()


@dataclass
class ProbeResult:
    sent: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        return self.ok / self.sent if self.sent else 0.0


def probe(port: int, seconds: float, *, deadline: float = 1.0, pause: float = 0.05) -> ProbeResult:
    """Health checks and normal API requests in turn for `seconds`, each on a new connection
    and counted as ok only when answered correctly within `deadline` seconds."""
    result = ProbeResult()
    requests = [
        ("GET", "/healthz", None, 200),
        ("POST", "/api/notes", {"title": "probe"}, 201),
        ("GET", "/api/notes?limit=5", None, 200),
    ]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        method, path, payload, expected = requests[result.sent % len(requests)]
        result.sent += 1
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=deadline)
        try:
            body = None if payload is None else json.dumps(payload)
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            took = time.monotonic() - start
            if response.status == expected and took <= deadline:
                result.ok += 1
                result.latencies.append(took)
            else:
                result.failures.append(f"{method} {path}: {response.status} in {took:.2f} s")
        except (OSError, http.client.HTTPException) as error:
            result.failures.append(f"{method} {path}: {error!r}")
        finally:
            conn.close()
        time.sleep(pause)
    return result
