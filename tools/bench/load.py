"""Figure 7: throughput and p99 latency, prod (gunicorn, gevent) versus gthread and the Flask
development server, at 1,000 and 100,000 notes, and a write workload; and what prod's logs and
metrics cost.

All four servers run the same prod image, the same code and the same Python, in a container
with its port published on 127.0.0.1; only the server or its settings differ:

* prod: the image as it ships (`python -m prod`: gunicorn, 2 gevent workers; JSON logs with
  request ids, Prometheus metrics on METRICS_PORT);
* prod, logs and metrics off: the same with `LOG_FORMAT=text` and `METRICS_PORT=0` (gunicorn's
  text lines, no metrics): prod's throughput over this one's, and its p99 less this one's, are
  the cost of the logs and metrics (targets: at most 10 % of the throughput, 2 ms of p99);
* gthread: the same gunicorn with the worker class prod used before (`--worker-class gthread
  --threads 4`: 2 workers x 4 threads), for comparison;
* the Flask development server from the same image: `flask --app app run` (Werkzeug's threaded
  server, one process, no reloader, no debugger).

Each server gets its own volume, filled directly with SQLite before it starts (N notes with
distinct timestamps; 100k take about a second), so that GET /api/notes (the default page of
50, newest first) and GET /healthz are timed against a small and a large table. The load
generator is wrk (compiled, 2 threads, CONNECTIONS kept-alive connections). The write workload
POSTs a 200-byte note per request, against the 100k-note table. The four servers run side by
side and their runs are interleaved, so that other work on the machine weighs on each alike.

So that the figure measures the servers and not the machine (`placement()`):

* the server containers get one CPU, the engine's last (`--cpuset-cpus`; one server is loaded
  at a time), and wrk the others (`taskset`, where the engine runs on this machine): the
  server is the bottleneck (it keeps its CPU busy), wrk, Docker's port proxy and dockerd share
  what is left. A CPU set,
  not `--cpus 1`: a CFS quota lets the server's threads run on both CPUs and then stops them
  for the rest of its 100 ms period, which shows as tens of ms in p99. With one CPU in all,
  nothing is pinned;
* no healthcheck (`--no-healthcheck`): the image's starts a Python process every 10 s (every
  second in its first 30 s), CPU that lands in whichever run it meets;
* the cost of the logs and metrics is measured apart, after a case's interleaved runs, in
  COST_ROUNDS rounds. Throughput: prod and the quiet prod loaded at the same time, both on the
  servers' one CPU, which the kernel shares equally between the two containers; a CPU-bound
  server's rate is then what its CPU share buys, so their ratio is the cost, and a slower moment
  of the machine (steal, a neighbour) weighs on both at once. Loaded one after the other, back
  to back, 3 s runs of the same server differed by up to 20 %, more than the cost itself
  (tools/bench/percall.py measures that without Docker: about 1 % of a request's CPU). p99:
  each server alone at LIGHT_CONNECTIONS, one after the other, the order swapped each round.
  Under saturation a closed-loop generator's latency is its queue (Little's law: connections /
  throughput), so there a p99 follows the throughput and moves with every drift of the
  machine; at one connection nothing queues, and the p99 shows what a request waits for the
  logs and metrics. The loaded runs' p99 difference is a row too, without a target. The rows
  give each round's ratio and p99 difference, and their median is held to the targets.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tools.harness.commands import find_tool, run
from tools.harness.docker import container, docker, volume
from tools.harness.net import free_port, wait_for_http

from .common import Context, FigureResult, Row, Target, log

CONNECTIONS = 16
LIGHT_CONNECTIONS = 1  # the cost rounds' latency runs: a load under which nothing queues
SIZES = (1_000, 100_000)
PROD = "prod"
QUIET = "prod, logs and metrics off"
# Each server: its command (none: the image's) and the settings it gets.
SERVERS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    PROD: ((), {}),
    QUIET: ((), {"LOG_FORMAT": "text", "METRICS_PORT": "0"}),
    "gthread 2x4 (before)": (
        (
            "gunicorn",
            "--config",
            "/app/prod/gunicorn.conf.py",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
        ),
        {},
    ),
    "Flask dev server": (
        ("flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "8000"),
        {},
    ),
}
# The cost of prod's logs and metrics (QUIET against PROD), per round of runs side by side.
MAX_THROUGHPUT_LOST = 0.10
MAX_P99_ADDED_MS = 2.0
COST_ROUNDS = 8
COST_SECONDS = 3.0
READS = ("/healthz", "/api/notes")
WRITE_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "bench", "body": "%s"}'
""" % ("x" * 170)

# Through the app's own engine, so that the same script seeds SQLite and MariaDB.
SEED = """
import sys
from sqlalchemy import func, insert, select
from app import create_app
from app.models import notes
count = int(sys.argv[1])
engine = create_app().extensions["berth_db"]
rows = [
    {"title": f"note {i}", "body": "x" * 200, "created_at": f"2024-01-01T{i:012d}Z",
     "updated_at": "2024"}
    for i in range(count)
]
with engine.begin() as conn:
    conn.execute(insert(notes), rows)
with engine.connect() as conn:
    print(conn.execute(select(func.count()).select_from(notes)).scalar())
"""

WRK_MISSING = (
    "wrk is missing: the load and slow figures need this compiled HTTP load generator "
    "(Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)"
)


def wrk_path() -> str:
    """The wrk program, or a clear error (checked before any figure runs, see __main__)."""
    found = find_tool("wrk")
    if not found:
        raise RuntimeError(WRK_MISSING)
    return found


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(output: str) -> dict:
    """req/s, p50/p99 in ms, and errors (non-2xx/3xx answers plus socket errors)."""

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not m:
            raise ValueError(f"no {pct}% latency in wrk output:\n{output}")
        return float(m[1]) * UNITS[m[2]]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rate:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rate": float(rate[1]),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": (int(non_2xx[1]) if non_2xx else 0)
        + (sum(map(int, socket.groups())) if socket else 0),
    }


def run_wrk(
    url: str,
    seconds: float,
    script: Path | None = None,
    cpus: str | None = None,
    connections: int = CONNECTIONS,
) -> dict:
    """wrk against `url`; on the CPUs `cpus` (taskset's list, e.g. "0") when given."""
    pin = ["taskset", "--cpu-list", cpus] if cpus else []
    args = [
        *pin,
        wrk_path(),
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if script is not None:
        args += ["-s", str(script)]
    return parse_wrk(run([*args, url], timeout=seconds + 30).stdout)


def wrk_rounds(ctx: Context) -> tuple[int, float]:
    """How many wrk runs per case, and the seconds of each, in this mode."""
    return ctx.options.count(3, quick=1), (2.0 if ctx.options.quick else 5.0)


def cost_rounds(ctx: Context) -> tuple[int, float]:
    """How many rounds of runs measure the logs and metrics' cost, and the seconds of each."""
    return ctx.options.count(COST_ROUNDS, quick=2), (1.0 if ctx.options.quick else COST_SECONDS)


def placement() -> tuple[list[str], str | None, str]:
    """Where the servers and wrk run: the servers' `docker run` options (one CPU, the engine's
    last), wrk's CPUs for taskset (the others; None: not pinned), and a line for the log."""
    engine = int(docker("info", "--format", "{{.NCPU}}").stdout.strip() or 1)
    if engine < 2:
        return [], None, "1 CPU: the servers and wrk share it"
    server = [f"--cpuset-cpus={engine - 1}"]
    # wrk's CPUs are this machine's: the same as the engine's only when the engine runs here
    # (not in Docker Desktop's VM).
    if sys.platform == "linux" and os.cpu_count() == engine and find_tool("taskset"):
        return server, f"0-{engine - 2}", f"the servers on CPU {engine - 1}, wrk on 0-{engine - 2}"
    return server, None, f"the servers on the engine's CPU {engine - 1}, wrk not pinned"


@contextlib.contextmanager
def write_script() -> Iterator[Path]:
    """wrk's script for POST /api/notes (a 200-byte note), in a temp folder removed after."""
    wrk_path()  # a missing wrk fails here, before any container starts
    folder = Path(tempfile.mkdtemp(prefix="berth-bench-wrk-"))
    try:
        script = folder / "post.lua"
        script.write_text(WRITE_SCRIPT)
        yield script
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def summarize(runs: list[dict]) -> dict:
    """Several run_wrk results as one: median req/s and p50, the worst p99, all the errors."""
    return {
        "rate": statistics.median(r["rate"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def seed(image: str, args: list[str], count: int) -> None:
    """Put `count` notes into the database the prod image sees with these `docker run` args."""
    answer = docker(
        "run", "--rm", *args, "--entrypoint", "python", image, "-c", SEED, str(count),
        timeout=180,
    )  # fmt: skip
    if answer.stdout.strip() != str(count):
        raise RuntimeError(f"seeding {count} notes gave {answer.stdout!r}")


def measure_cost(
    bases: dict[str, str],
    path: str,
    script: Path | None,
    rounds: int,
    seconds: float,
    cpus: str | None,
) -> dict[str, list[dict]]:
    """`rounds` rounds: prod and the quiet prod under CONNECTIONS at the same time, then each
    alone under LIGHT_CONNECTIONS (its `light` run), the order swapped each round."""
    results: dict[str, list[dict]] = {PROD: [], QUIET: []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for index in range(rounds):
            together = {
                server: pool.submit(run_wrk, bases[server] + path, seconds, script, cpus)
                for server in (PROD, QUIET)
            }
            loaded = {server: job.result() for server, job in together.items()}
            for server in (PROD, QUIET) if index % 2 == 0 else (QUIET, PROD):
                url = bases[server] + path
                light = run_wrk(url, seconds, script, cpus, connections=LIGHT_CONNECTIONS)
                results[server].append({**loaded[server], "light": light})
    return results


def cost_rows(figure: str, case: str, results: dict[str, list[dict]]) -> list[Row]:
    """What prod's logs and metrics cost in one case: prod's throughput over the quiet prod's
    under load, and the p99 they add at one connection (and, without a target, under load),
    each from the rounds of runs side by side (round i of one against round i of the other)."""
    rounds = list(zip(results[PROD], results[QUIET], strict=True))
    return [
        Row(
            figure,
            f"logs and metrics on / off: {case}",
            "x",
            [on["rate"] / off["rate"] for on, off in rounds],
            targets=[Target("median", ">=", 1 - MAX_THROUGHPUT_LOST, "x")],
        ),
        Row(
            figure,
            f"p99 added by logs and metrics: {case}",
            "ms",
            [on["light"]["p99_ms"] - off["light"]["p99_ms"] for on, off in rounds],
            targets=[Target("median", "<=", MAX_P99_ADDED_MS, "ms")],
        ),
        Row(
            figure,
            f"p99 added under {CONNECTIONS} connections: {case}",
            "ms",
            [on["p99_ms"] - off["p99_ms"] for on, off in rounds],
        ),
    ]


def run_load(ctx: Context) -> FigureResult:
    figure = FigureResult("load", "Throughput")
    runs, seconds = wrk_rounds(ctx)
    rounds, round_seconds = cost_rounds(ctx)
    image = ctx.image("prod")
    pinned, wrk_cpus, where = placement()
    log(f"load: {where}")
    table = [
        "| Server | Request | Notes | req/s (median of runs) | p50 ms | p99 ms | Errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    summary: dict[str, list] = {}
    rates: dict[tuple[str, str, int], float] = {}
    lines: dict[tuple[int, int, str], str] = {}
    with write_script() as post:
        for size in SIZES:
            with contextlib.ExitStack() as running:
                bases = {}
                for server, (command, settings) in SERVERS.items():
                    data = running.enter_context(volume())
                    seed(image, ["-v", f"{data}:/data"], size)
                    port = free_port()
                    env = [f"--env={name}={value}" for name, value in settings.items()]
                    running.enter_context(
                        container(
                            image, "-p", f"127.0.0.1:{port}:8000", "-v", f"{data}:/data", *env,
                            *pinned, "--no-healthcheck", command=command,
                        )
                    )  # fmt: skip
                    bases[server] = f"http://127.0.0.1:{port}"
                for base in bases.values():
                    wait_for_http(f"{base}/healthz", timeout=60)
                cases = [(f"GET {path}", path, None) for path in READS]
                if size == SIZES[-1]:
                    cases.append(("POST /api/notes", "/api/notes", post))
                for label, path, script in cases:
                    results: dict[str, list[dict]] = {server: [] for server in SERVERS}
                    for base in bases.values():
                        run_wrk(base + path, 1.0, script, wrk_cpus)  # warm-up
                    # Interleaved, so that other work on the machine weighs on every server alike.
                    for _ in range(runs):
                        for server, base in bases.items():
                            results[server].append(run_wrk(base + path, seconds, script, wrk_cpus))
                    cost = measure_cost(bases, path, script, rounds, round_seconds, wrk_cpus)
                    figure.rows += cost_rows(figure.name, f"{label}, {size // 1000}k notes", cost)
                    summary[f"cost {label} {size}"] = cost
                    for index, (server, runs_of) in enumerate(results.items()):
                        total = summarize(runs_of)
                        median, p50, p99 = total["rate"], total["p50_ms"], total["p99_ms"]
                        errors = total["errors"]
                        rates[(server, label, size)] = median
                        figure.rows.append(
                            Row(
                                figure.name,
                                f"{server}: {label}, {size // 1000}k notes",
                                "req/s",
                                [r["rate"] for r in runs_of],
                            )
                        )
                        lines[(index, size, label)] = (
                            f"| {server} | {label} | {size:,} | {median:.0f} | {p50:.2f} "
                            f"| {p99:.2f} | {errors} |"
                        )
                        summary[f"{server} {label} {size}"] = runs_of
                        log(
                            f"load: {server} {label} {size} notes: {median:.0f} req/s, "
                            f"p99 {p99:.2f} ms, {errors} errors"
                        )
    table += [lines[key] for key in sorted(lines)]
    for server in SERVERS:
        for label in (f"GET {p}" for p in READS):
            small, large = rates[(server, label, SIZES[0])], rates[(server, label, SIZES[-1])]
            figure.rows.append(
                Row(
                    figure.name,
                    f"{server}: {label}, 100k / 1k notes",
                    "x",
                    [large / small],
                    targets=[Target("min", ">=", 0.8, "x")] if server == PROD else [],
                )
            )
    figure.extra_markdown = "\n".join(table)
    figure.details["runs"] = summary
    figure.details["connections"] = CONNECTIONS
    figure.details["light_connections"] = LIGHT_CONNECTIONS
    figure.details["seconds_per_run"] = seconds
    figure.details["cost_rounds"] = rounds
    figure.details["seconds_per_cost_run"] = round_seconds
    figure.details["placement"] = where
    return figure
