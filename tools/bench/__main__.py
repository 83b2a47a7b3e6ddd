"""Run the benchmarks against the real Docker engine and print a markdown table.

    scripts/bench                     every figure (about 7 minutes on 2 cores)
    scripts/bench reload stop         only these figures
    scripts/bench --quick             fewer rounds (about 2 minutes); for a smoke run
    scripts/bench --repeat 10         this many rounds for every figure
    scripts/bench reload day --against 446f3d4
                                      these figures for this tree and that commit, side by
                                      side in one run (figures that compare: reload, day)
    scripts/bench reload day --against 446f3d4 --plots docs/figures
                                      ... and their plots (SVG) into docs/figures
    scripts/bench arm64 rootless      the opt-in figures, which only run when named

Figures: reload, rebuild, deps, size, up, stop, load, resources, debugger, slow, pins,
bytecode, db, day, and the opt-in arm64 and rootless (docs/benchmarks.md explains each); load
needs wrk (a compiled HTTP load generator, e.g. apt-get install wrk); arm64 needs emulation on
an amd64 machine (PYTHON_IMAGE_ARM64 names the base), rootless a rootless engine
(ROOTLESS_DOCKER_HOST). The results, with every sample, also go to
tools/bench/results/<UTC time>.json (gitignored), the reload and day plots (SVG, with
matplotlib) into tools/bench/results/<UTC time>/ or the folder --plots names. The targets are
compared, not asserted: the exit status is non-zero only when a figure could not run.
Builds need the extra CA bundle behind a TLS-intercepting proxy: EXTRA_CA_BUNDLE=/path/to.pem.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tools.harness.commands import find_tool, run
from tools.harness.docker import extra_ca_bundle
from tools.harness.project import ROOT

from . import plots
from .bytecode import run_bytecode
from .common import Context, FigureResult, Options, image_size, log, markdown_table
from .database import run_database
from .day import run_day_figure
from .debugger import run_debugger
from .load import WRK_MISSING, run_load
from .pins import run_pins
from .platforms import run_arm64, run_rootless
from .rebuild import run_deps, run_rebuild
from .reload import run_reload
from .resources import run_resources
from .sizes import BASE, run_sizes
from .slow import run_slow
from .startup import run_up
from .stop import run_stop

FIGURES: dict[str, tuple[str, Callable[[Context], FigureResult]]] = {
    "reload": ("hot-reload latency of the compose dev stack", run_reload),
    "rebuild": ("code-only rebuild: prod, dev, naive single-stage", run_rebuild),
    "deps": ("rebuild after one pin change: uv, and the pip baseline", run_deps),
    "size": ("image sizes above the base image", run_sizes),
    "up": ("compose up / fresh clone / devcontainer up until serving", run_up),
    "stop": ("docker stop of the prod container", run_stop),
    "load": (
        "throughput and p99 at 1k and 100k notes, writes: prod vs gthread vs dev; what prod's "
        "logs and metrics cost",
        run_load,
    ),
    "resources": ("CPU and memory of prod, idle and under load (Kubernetes sizing)", run_resources),
    "debugger": ("attach after port checks and after the debug adapter dies", run_debugger),
    "slow": ("probes answered while 256 slow connections are open", run_slow),
    "pins": ("a pin change applied in the running dev stack", run_pins),
    "bytecode": ("compiled packages or not: rebuild, start-up, reload", run_bytecode),
    "db": (
        "list/create throughput on MariaDB beside SQLite; dev stack up with the db",
        run_database,
    ),
    "day": ("a working day: saves, debug sessions, editors leaving, pins", run_day_figure),
    "arm64": ("builds for linux/arm64 beside linux/amd64 (emulated on amd64)", run_arm64),
    "rootless": ("the dev loop on a rootless engine beside the rootful one", run_rootless),
}
NEEDS_WRK = ("load", "db")
# Run only when named: each needs a setup of its own and takes long (emulated builds).
OPT_IN = ("arm64", "rootless")


def _output(args: list[str]) -> str:
    try:
        result = run(args, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({exc.__class__.__name__})"
    return result.stdout.strip() if result.returncode == 0 else "unavailable"


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    cli = find_tool("devcontainer")
    return {
        "cpus": _output(["nproc"]),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "docker": _output(["docker", "version", "--format", "{{.Server.Version}}"]),
        "compose": _output(["docker", "compose", "version", "--short"]),
        "buildx": _output(["docker", "buildx", "version"]),
        "devcontainer_cli": _output([cli, "--version"]) if cli else "missing",
        "base_image": BASE,
        "base_image_id": _output(["docker", "image", "inspect", "--format", "{{.Id}}", BASE]),
        "base_image_bytes": image_size(BASE),
        "git_commit": _output(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
        "git_dirty": bool(_output(["git", "-C", str(ROOT), "status", "--porcelain"])),
        "python": platform.python_version(),
        "load_average_at_start": _load_average(),
    }


def _load_average() -> list[float] | None:
    """The 1/5/15-minute load averages: other work on the machine skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmarks of the berth images and dev loop on the real Docker engine.",
        epilog="Figures: " + "; ".join(f"{k}: {v[0]}" for k, v in FIGURES.items()),
    )
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help="default: all")
    parser.add_argument("--quick", action="store_true", help="fewest rounds: a smoke run")
    parser.add_argument("--repeat", type=int, metavar="N", help="rounds for every figure")
    parser.add_argument(
        "--against", metavar="COMMIT", help="measure that commit beside this tree (reload, day)"
    )
    parser.add_argument("--json", metavar="PATH", help="default: tools/bench/results/<time>.json")
    parser.add_argument(
        "--plots",
        metavar="DIR",
        help="where the SVG plots go (reload, day); default: beside the JSON, results/<time>/",
    )
    args = parser.parse_args(argv)
    unknown = [f for f in args.figures if f not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if (
        args.against
        and run(
            ["git", "-C", ROOT, "rev-parse", "--verify", "--quiet", args.against + "^{commit}"],
            check=False,
        ).returncode
        != 0
    ):
        parser.error(f"--against {args.against}: no such commit")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the cleanup of containers and images


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    names = args.figures or [name for name in FIGURES if name not in OPT_IN]
    if any(name in NEEDS_WRK for name in names) and not find_tool("wrk"):
        print(f"scripts/bench: {WRK_MISSING}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    if extra_ca_bundle() is None:
        log("EXTRA_CA_BUNDLE is not set: fine without a TLS-intercepting proxy, else set it")
    started = time.monotonic()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine()
    results: list[FigureResult] = []
    options = Options(quick=args.quick, repeat=args.repeat, against=args.against)
    with Context(options) as ctx:
        for name in names:
            log(f"== {name}: {FIGURES[name][0]}")
            figure_start = time.monotonic()
            try:
                figure = FIGURES[name][1](ctx)
            except Exception as exc:
                traceback.print_exc()
                figure = FigureResult(name, FIGURES[name][0], error=f"{exc.__class__.__name__}")
                figure.details["traceback"] = traceback.format_exc()
            figure.seconds = time.monotonic() - figure_start
            figure.number = list(FIGURES).index(name) + 1
            log(f"== {name}: {figure.seconds:.0f} s")
            results.append(figure)
    total = time.monotonic() - started
    info["load_average_at_end"] = _load_average()

    print()
    print(markdown_table(results))
    for figure in results:
        if figure.extra_markdown:
            print()
            print(figure.extra_markdown)
    print()
    print(
        f"Machine: {info['cpus']} cores, {info['cpu_model']}, Docker {info['docker']}, "
        f"Compose {info['compose']}; base {BASE} {info['base_image_bytes'] / 1e6:.0f} MB; "
        f"load average {info['load_average_at_start']} at start, "
        f"{info['load_average_at_end']} at the end."
    )
    timings = ", ".join(f"{f.name} {f.seconds:.0f} s" for f in results)
    print(f"Run time: {total:.0f} s ({timings}); mode: " + _mode(args))

    path = ROOT / "tools" / "bench" / "results" / f"{stamp}.json"
    if args.json:
        path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": stamp,
        "mode": _mode(args),
        "seconds": total,
        "machine": info,
        "figures": [
            {
                "name": f.name,
                "title": f.title,
                "seconds": f.seconds,
                "error": f.error,
                "rows": [row.as_json() for row in f.rows],
                "details": f.details,
            }
            for f in results
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"Results: {path}")
    try:
        plotted = plots.write(document, Path(args.plots) if args.plots else path.with_suffix(""))
    except ImportError:
        plotted = []
        log("no plots: matplotlib is not installed (pip install -r tools/requirements.txt)")
    for plot in plotted:
        print(f"Plot: {plot}")
    failed = [f.name for f in results if f.error]
    if failed:
        print(f"Figures that could not run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _mode(args: argparse.Namespace) -> str:
    mode = f"--repeat {args.repeat}" if args.repeat is not None else ""
    mode = mode or ("--quick" if args.quick else "default")
    return mode + (f" --against {args.against}" if args.against else "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
