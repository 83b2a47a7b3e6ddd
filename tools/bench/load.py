"""Figure 7: request throughput and latency, prod (gunicorn) versus the Flask development server.

Both servers run the same prod image, the same code and the same Python, in a container with its
port published on 127.0.0.1; only the server differs:

* gunicorn as configured (gunicorn.conf.py defaults: 2 gthread workers x 4 threads);
* the Flask development server from the same image: `flask --app app run --host 0.0.0.0
  --port 8000` (Werkzeug's threaded server, one process, no reloader, no debugger).

The load generator is this module: one asyncio process on the host with CONCURRENCY
HTTP/1.1 kept-alive connections (reconnecting when a server closes one), sending a fixed number
of GETs per run, capped in time; per-request latency is from writing the request to reading the
whole body. GET /api/notes lists 20 seeded notes. A warm-up run precedes the timed runs. The
machine has 2 cores shared by server and client, so the client's own CPU use is part of the
figure: absolute numbers are for this machine only, the ratio is the point.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from tools.harness.docker import container
from tools.harness.net import free_port, http, wait_for_http

from .common import Context, FigureResult, Row, log, percentile

CONCURRENCY = 8
TIME_CAP = 20.0  # seconds per run
SERVERS = {
    "gunicorn (prod)": (),
    "Flask dev server": ("flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "8000"),
}
PATHS = ("/healthz", "/api/notes")


@dataclass
class LoadRun:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return (status, whether the server keeps the connection)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    version, status, *_ = status_line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:
        await reader.read()  # body until the server closes
        return int(status), False
    connection = headers.get("connection", "")
    keep = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    return int(status), keep


async def _load(port: int, path: str, total: int, time_cap: float) -> LoadRun:
    result = LoadRun()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    remaining = total
    deadline = time.monotonic() + time_cap

    async def client() -> None:
        nonlocal remaining
        reader = writer = None
        try:
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                start = time.perf_counter()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(request)
                    status, keep = await asyncio.wait_for(_read_response(reader), 10)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    result.errors += 1
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    continue
                result.latencies.append(time.perf_counter() - start)
                result.requests += 1
                if status != 200:
                    result.errors += 1
                if not keep:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    result.seconds = time.perf_counter() - start
    return result


def load(port: int, path: str, total: int, time_cap: float = TIME_CAP) -> LoadRun:
    return asyncio.run(_load(port, path, total, time_cap))


def run_load(ctx: Context) -> FigureResult:
    figure = FigureResult("load", "Throughput")
    runs = ctx.options.count(3, quick=1)
    total = 500 if ctx.options.quick else 3000
    image = ctx.image("prod")
    table = [
        "| Server | Path | Runs x requests | req/s (median of runs) | p50 ms | p99 ms | Errors |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    summary: dict[str, dict] = {}
    for server, command in SERVERS.items():
        port = free_port()
        with container(image, "-p", f"127.0.0.1:{port}:8000", command=command) as name:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/healthz", timeout=60)
            for i in range(20):
                answer = http(
                    "POST", f"{base}/api/notes", {"title": f"note {i}", "body": "x" * 200}
                )
                if answer.status != 201:
                    raise RuntimeError(f"{server}: seeding failed: {answer.status} {answer.body!r}")
            for path in PATHS:
                load(port, path, min(total, 500))  # warm-up
                results = [load(port, path, total) for _ in range(runs)]
                rates = [r.rate for r in results]
                latencies = [x * 1000 for r in results for x in r.latencies]
                errors = sum(r.errors for r in results)
                figure.rows.append(Row(figure.name, f"{server}: GET {path}", "req/s", rates))
                p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                table.append(
                    f"| {server} | GET {path} | {runs} x {total} | {statistics.median(rates):.0f} "
                    f"| {p50:.2f} | {p99:.2f} | {errors} |"
                )
                summary[f"{server} GET {path}"] = {
                    "rates": rates,
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "errors": errors,
                    "requests": [r.requests for r in results],
                    "container": name,
                }
                log(
                    f"load: {server} GET {path}: {statistics.median(rates):.0f} req/s, "
                    f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, {errors} errors"
                )
    figure.extra_markdown = "\n".join(table)
    figure.details["runs"] = summary
    figure.details["concurrency"] = CONCURRENCY
    return figure
