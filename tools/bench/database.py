"""Figure 11: the prod image on MariaDB beside SQLite, and the dev stack's start with the
database switched on.

Throughput: the prod image (`python -m prod`, 2 gevent workers) once on SQLite (a fresh volume)
and once on MariaDB (`mariadb:11.8`, a fresh server on a private Docker network), each seeded
with 1,000 notes through the app's own data layer; wrk (the load figure's helper, same
connections and duration) times GET /api/notes (a page of 50) and POST /api/notes (a 200-byte
note), one backend after the other in the same run, so the ratio is the point.

Start: the dev stack (this run's dev image) from nothing (`down -v` between rounds) until
/healthz answers 200, without and with COMPOSE_PROFILES=db (MariaDB's first start initialises
its data directory, then the app waits for its healthcheck and runs the migrations).
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tools.harness.docker import container, volume
from tools.harness.mariadb import mariadb, network
from tools.harness.net import free_port, wait_for_http

from .common import Context, FigureResult, Row, log
from .load import WRITE_SCRIPT, run_wrk, seed, wrk_path

NOTES = 1_000


@contextlib.contextmanager
def _backend(image: str, name: str) -> Iterator[list[str]]:
    """`docker run` arguments for the prod image on this backend, its database seeded."""
    with volume() as data:
        args = ["-v", f"{data}:/data"]
        if name == "SQLite":
            seed(image, args, NOTES)
            yield args
            return
        with network() as net, mariadb(net) as db:
            args += ["--network", net, "-e", f"DATABASE_URL={db.network_url()}"]
            seed(image, args, NOTES)
            yield args


def run_throughput(ctx: Context, figure: FigureResult, table: list[str]) -> None:
    runs = ctx.options.count(3, quick=1)
    seconds = 2.0 if ctx.options.quick else 5.0
    image = ctx.image("prod")
    wrk_path()
    script_dir = Path(tempfile.mkdtemp(prefix="berth-bench-db-"))
    post = script_dir / "post.lua"
    post.write_text(WRITE_SCRIPT)
    rates: dict[tuple[str, str], float] = {}
    try:
        for backend in ("SQLite", "MariaDB"):
            with _backend(image, backend) as args:
                port = free_port()
                with container(image, "-p", f"127.0.0.1:{port}:8000", *args):
                    base = f"http://127.0.0.1:{port}"
                    wait_for_http(f"{base}/healthz", timeout=90)
                    for label, script in (("GET /api/notes", None), ("POST /api/notes", post)):
                        run_wrk(f"{base}/api/notes", 1.0, script)  # warm-up
                        results = [
                            run_wrk(f"{base}/api/notes", seconds, script) for _ in range(runs)
                        ]
                        median = statistics.median(r["rate"] for r in results)
                        p99 = max(r["p99_ms"] for r in results)
                        errors = sum(r["errors"] for r in results)
                        rates[(backend, label)] = median
                        figure.rows.append(
                            Row(figure.name, f"{backend}: {label}", "req/s",
                                [r["rate"] for r in results])
                        )  # fmt: skip
                        table.append(
                            f"| {backend} | {label} | {median:.0f} | {p99:.2f} | {errors} |"
                        )
                        log(f"db: {backend} {label}: {median:.0f} req/s, p99 {p99:.2f} ms")
    finally:
        shutil.rmtree(script_dir, ignore_errors=True)
    for label in ("GET /api/notes", "POST /api/notes"):
        ratio = rates[("MariaDB", label)] / rates[("SQLite", label)]
        figure.rows.append(Row(figure.name, f"MariaDB / SQLite: {label}", "x", [ratio]))


def run_start(ctx: Context, figure: FigureResult) -> None:
    rounds = ctx.options.count(3, quick=1)
    project = ctx.copy("db-up")
    for label, env in (("SQLite", {}), ("MariaDB", {"COMPOSE_PROFILES": "db"})):
        row = Row(figure.name, f"dev stack up until /healthz 200, {label}", "s")
        figure.rows.append(row)
        for _ in range(rounds):
            with ctx.dev_stack(project, {**env, "DB_PORT": str(free_port())}) as stack:
                start = time.monotonic()
                stack.up(wait=False)
                wait_for_http(f"{stack.url}/healthz", timeout=180, interval=0.05)
                row.samples.append(time.monotonic() - start)
            log(f"db: up with {label}: {row.samples[-1]:.1f} s")


def run_database(ctx: Context) -> FigureResult:
    figure = FigureResult("db", "MariaDB beside SQLite")
    table = [
        "| Backend | Request | req/s (median of runs) | p99 ms | Errors |",
        "|---|---|---:|---:|---:|",
    ]
    run_throughput(ctx, figure, table)
    run_start(ctx, figure)
    figure.extra_markdown = "\n".join(table)
    return figure
