"""Figure 10: slow clients. While SLOW connections trickle their requests (half the headers, half
a body after complete headers, a byte per second each, reconnecting whenever the server closes
one), a probe sends health checks and normal API requests (GET /healthz, POST a note, GET a
page) one after another, each on a new connection; a request counts as a success when it is
answered correctly within 1 s. The servers of figure 7 (load) but its prod with logs and
metrics off (what it measures does not depend on them). Docker's health status of the container
is read at the end.
"""

from __future__ import annotations

import json

from tools.harness.docker import container, inspect
from tools.harness.net import free_port, wait_for_http
from tools.harness.slowclients import probe, slow_clients

from .common import Context, FigureResult, Row, Target, log, percentile
from .load import PROD, QUIET, SERVERS

SLOW = 256


def run_slow(ctx: Context) -> FigureResult:
    figure = FigureResult("slow", "Slow clients")
    seconds = 8.0 if ctx.options.quick else 20.0
    image = ctx.image("prod")
    table = [
        f"| Server | Probes | Answered within 1 s | p99 ms | Slow connections opened "
        f"(of {SLOW}) | Docker health at the end |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for server, (command, _) in SERVERS.items():
        if server == QUIET:
            continue
        port = free_port()
        with container(image, "-p", f"127.0.0.1:{port}:8000", command=command) as name:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            with slow_clients(port, SLOW) as stats:
                result = probe(port, seconds, deadline=1.0)
            health = json.loads(inspect(name, "{{json .State.Health}}"))
        rate = 100 * result.success_rate
        p99 = 1000 * percentile(result.latencies, 99) if result.latencies else float("nan")
        figure.rows.append(
            Row(
                figure.name,
                f"{server}: probes answered within 1 s, {SLOW} slow connections",
                "%",
                [rate],
                targets=[Target("min", ">=", 99, "%")] if server == PROD else [],
            )
        )
        table.append(
            f"| {server} | {result.sent} | {rate:.1f} % | {p99:.1f} | "
            f"{stats.connections_opened} | {health['Status']} "
            f"(failing streak {health['FailingStreak']}) |"
        )
        figure.details[server] = {
            "sent": result.sent,
            "ok": result.ok,
            "failures": result.failures[:20],
            "slow": stats.__dict__,
            "health": health,
        }
        log(f"slow: {server}: {rate:.1f} % of {result.sent} probes, health {health['Status']}")
    figure.extra_markdown = "\n".join(table)
    return figure
