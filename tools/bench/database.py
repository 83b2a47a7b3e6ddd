"""Figure 13: the prod image on MariaDB beside SQLite, and the dev stack's start with the
database switched on.

Throughput: the prod image (`python -m prod`, 2 gevent workers) once on SQLite (a fresh volume)
and once on MariaDB (`mariadb:11.8`, a fresh server on a private Docker network), each seeded
with 1,000 notes through the app's own data layer; wrk (the load figure's helper, same
connections and duration) times GET /api/notes (a page of 50) and POST /api/notes (a 200-byte
note), both servers up at once and their runs interleaved, so the ratio is the point.

Start: the dev stack (this run's dev image) from nothing (`down -v` between rounds) until
/healthz answers 200, without and with COMPOSE_PROFILES=db (MariaDB's first start initialises
its data directory, then the app waits for its healthcheck and runs the migrations).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from tools.harness.docker import container, volume
from tools.harness.mariadb import mariadb, network
from tools.harness.net import free_port, wait_for_http

from .common import Context, FigureResult, Row, log
from .load import run_wrk, seed, summarize, write_script, wrk_rounds

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
    runs, seconds = wrk_rounds(ctx)
    image = ctx.image("prod")
    backends = ("SQLite", "MariaDB")
    rates: dict[tuple[str, str], float] = {}
    with write_script() as post, contextlib.ExitStack() as running:
        bases = {}
        for backend in backends:  # both up at once, so that their runs can alternate
            args = running.enter_context(_backend(image, backend))
            port = free_port()
            running.enter_context(container(image, "-p", f"127.0.0.1:{port}:8000", *args))
            bases[backend] = f"http://127.0.0.1:{port}"
        for base in bases.values():
            wait_for_http(f"{base}/healthz", timeout=90)
        for label, script in (("GET /api/notes", None), ("POST /api/notes", post)):
            results: dict[str, list[dict]] = {backend: [] for backend in backends}
            for base in bases.values():
                run_wrk(f"{base}/api/notes", 1.0, script)  # warm-up
            # Interleaved, so that other work on the machine weighs on both backends alike.
            for _ in range(runs):
                for backend, base in bases.items():
                    results[backend].append(run_wrk(f"{base}/api/notes", seconds, script))
            for backend, runs_of in results.items():
                total = summarize(runs_of)
                median, p99, errors = total["rate"], total["p99_ms"], total["errors"]
                rates[(backend, label)] = median
                figure.rows.append(
                    Row(figure.name, f"{backend}: {label}", "req/s", [r["rate"] for r in runs_of])
                )
                table.append(f"| {backend} | {label} | {median:.0f} | {p99:.2f} | {errors} |")
                log(f"db: {backend} {label}: {median:.0f} req/s, p99 {p99:.2f} ms")
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
