"""Figure 6: `docker stop` of a serving prod container.

Each round starts the prod image (gunicorn as configured: 2 workers, keepalive 5 s, graceful
timeout 5 s) with its port published on 127.0.0.1, waits until GET /healthz answers 200, then
times `docker stop <container>` (default 10 s grace): the CLI round trip, SIGTERM to gunicorn
(PID 1), the workers' graceful exit and the container's teardown. Removal afterwards is untimed.

Two cases, alternating: no client connection open (the server idle), and one idle HTTP/1.1
kept-alive connection open (a browser, or a proxy's connection pool, after one request): a
stopping worker keeps kept-alive connections open for STOP_LINGER (prod/worker.py, 0.3 s) so
that a request already on its way gets an answer.
"""

from __future__ import annotations

import http.client
import time

from tools.harness.docker import container, docker
from tools.harness.net import free_port, wait_for_http

from .common import Context, FigureResult, Row, Target, log


def _stop_once(image: str, keep_alive: bool) -> float:
    port = free_port()
    with container(image, "-p", f"127.0.0.1:{port}:8000") as name:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, interval=0.05)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            if keep_alive:
                client.request("GET", "/healthz")
                client.getresponse().read()
            start = time.perf_counter()
            docker("stop", name, timeout=60)
            return time.perf_counter() - start
        finally:
            client.close()


def run_stop(ctx: Context) -> FigureResult:
    figure = FigureResult("stop", "Stop")
    rounds = ctx.options.count(10, quick=2)
    target = [Target("median", "<=", 1, "s")]
    idle = Row(figure.name, "docker stop, prod, no open connection", "s", targets=target)
    kept = Row(
        figure.name, "docker stop, prod, one idle keep-alive connection", "s", targets=target
    )
    figure.rows += [idle, kept]
    image = ctx.image("prod")
    for i in range(rounds):
        idle.samples.append(_stop_once(image, keep_alive=False))
        kept.samples.append(_stop_once(image, keep_alive=True))
        log(f"stop {i + 1}/{rounds}: {idle.samples[-1]:.2f} s, keep-alive {kept.samples[-1]:.2f} s")
    return figure
