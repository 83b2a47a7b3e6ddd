"""Figure 8: CPU and memory of the prod container, idle and under a bounded load.

The figures behind the Kubernetes manifests' resource requests and limits (deploy/k8s/base).
The prod image runs hardened (read-only root, tmpfs /tmp, no capabilities, a fresh volume on
/data, no Docker HEALTHCHECK, as under the kubelet), published on 127.0.0.1, with gunicorn's
defaults (2 gthread workers x 4 threads) and again with 4 workers, because memory grows with
WEB_CONCURRENCY. Samples come from
`docker stats --no-stream` (each call averages CPU over about a second; memory is the cgroup's
usage less its inactive file cache, which is close to the working set the kubelet evicts on):

* idle: after /healthz answered, nothing else running;
* load: while wrk (tools/bench/load.py's run_wrk: 2 threads, 16 kept-alive connections) sends
  GET /api/notes over 20 seeded notes for 20 s (8 s with --quick); the sampler runs beside
  it in a thread.

The client shares the 2 cores with the server, so CPU under load is what the server got, not
what it could use alone; req/s is printed with it so CPU per request can be derived.
"""

from __future__ import annotations

import re
import statistics
import threading
import time

from tools.harness.docker import container, docker, volume
from tools.harness.net import free_port, http, wait_for_http

from .common import Context, FigureResult, Row, log
from .load import run_wrk

MIB = 1024 * 1024
UNITS = {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "kB": 1000, "MB": 1e6, "GB": 1e9}
HARDENED = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL")
HARDENED += ("--security-opt", "no-new-privileges")
# The kubelet ignores the image's HEALTHCHECK (its probes are HTTP requests); Docker would start
# a Python process for it every 10 s, a 0.1-core blip that is not the server's.
HARDENED += ("--no-healthcheck",)
WORKERS = (2, 4)
IDLE_SAMPLES = 5


def parse_stats(line: str) -> tuple[float, float]:
    """One `docker stats` line formatted as '{{.CPUPerc}} {{.MemUsage}}' -> (cores, MiB).

    '12.50% 41.2MiB / 23.4GiB' -> (0.125, 41.2). CPUPerc counts one core as 100%.
    """
    match = re.fullmatch(r"\s*([\d.]+)%\s+([\d.]+)\s*([A-Za-z]+)\s*/.*", line)
    if not match or match[3] not in UNITS:
        raise ValueError(f"unexpected docker stats line: {line!r}")
    return float(match[1]) / 100, float(match[2]) * UNITS[match[3]] / MIB


def sample(name: str) -> tuple[float, float]:
    line = docker(
        "stats", "--no-stream", "--format", "{{.CPUPerc}} {{.MemUsage}}", name, timeout=30
    ).stdout.strip()
    return parse_stats(line)


def _sample_during(name: str, stop: threading.Event, into: list[tuple[float, float]]) -> None:
    while not stop.is_set():
        taken = sample(name)
        if not stop.is_set():  # a sample that ended after the load did is not a load sample
            into.append(taken)


def run_resources(ctx: Context) -> FigureResult:
    figure = FigureResult("resources", "Resources")
    seconds = 8.0 if ctx.options.quick else 20.0
    image = ctx.image("prod")
    table = [
        "| WEB_CONCURRENCY | phase | samples | CPU median (cores) | CPU max | memory median "
        "(MiB) | memory max | req/s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    details: dict[str, dict] = {}
    for workers in WORKERS:
        port = free_port()
        with (
            volume() as data,
            container(
                image,
                *HARDENED,
                "-v",
                f"{data}:/data",
                "-e",
                f"WEB_CONCURRENCY={workers}",
                "-p",
                f"127.0.0.1:{port}:8000",
            ) as name,
        ):
            base = f"http://127.0.0.1:{port}"
            _, started = wait_for_http(f"{base}/healthz", timeout=60, interval=0.05)
            for i in range(20):
                answer = http(
                    "POST", f"{base}/api/notes", {"title": f"note {i}", "body": "x" * 200}
                )
                if answer.status != 201:
                    raise RuntimeError(f"seeding failed: {answer.status} {answer.body!r}")
            time.sleep(2)  # let the start-up and seeding settle before the idle samples
            idle = [sample(name) for _ in range(IDLE_SAMPLES)]
            busy: list[tuple[float, float]] = []
            stop = threading.Event()
            sampler = threading.Thread(target=_sample_during, args=(name, stop, busy))
            url = f"http://127.0.0.1:{port}/api/notes"
            run_wrk(url, 1)  # warm-up
            sampler.start()
            try:
                run = run_wrk(url, seconds)
            finally:
                stop.set()
                sampler.join(timeout=30)
            after = sample(name)
        for phase, samples, rate in (("idle", idle, None), ("load", busy, run["rate"])):
            if not samples:
                raise RuntimeError(f"no docker stats samples during {phase}")
            cpu = [c * 1000 for c, _ in samples]
            mem = [m for _, m in samples]
            label = f"{workers} workers, {phase}"
            figure.rows.append(Row(figure.name, f"{label}: CPU", "millicores", cpu))
            figure.rows.append(Row(figure.name, f"{label}: memory", "MiB", mem))
            table.append(
                f"| {workers} | {phase} | {len(samples)} | {statistics.median(cpu) / 1000:.2f} "
                f"| {max(cpu) / 1000:.2f} | {statistics.median(mem):.1f} | {max(mem):.1f} "
                f"| {'' if rate is None else f'{rate:.0f}'} |"
            )
            details[label] = {"samples": samples, "req_per_s": rate}
        details[f"{workers} workers"] = {
            "start_to_healthz_s": started,
            "memory_after_load_mib": after[1],
            "requests": run.requests,
            "errors": run.errors,
        }
        log(
            f"resources: {workers} workers: idle {statistics.median(m for _, m in idle):.1f} MiB, "
            f"load max {max(m for _, m in busy):.1f} MiB, "
            f"CPU {statistics.median(c for c, _ in busy):.2f} cores at {run.rate:.0f} req/s, "
            f"{run.errors} errors"
        )
    figure.extra_markdown = "\n".join(table)
    figure.details["runs"] = details
    return figure
