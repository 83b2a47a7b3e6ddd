"""Figure 5: from `up` to a serving app, with the images already built.

compose: `docker compose -f docker-compose.dev.yml up -d --no-build` (this run's dev image,
default settings: DEBUGPY=1, watchdog reloader) from a temp copy of the project, timed from just
before the command until GET /healthz on the published port answers 200 (polled every 20 ms).
Each round starts from nothing (the previous round's `down -v` removed the containers, the
network and the data volume; untimed), so network and volume creation are included.

devcontainer: `devcontainer up --workspace-folder <temp copy>` with the CLI pinned in
tools/package.json, timed until the command returns (after onCreateCommand) and until /healthz
answers 200, whichever is later. Warm: the images exist (the compose-built dev image and, if the
CLI derived one for updateRemoteUserUID, its `vsc-...-uid` image); the containers were removed.
Cold: those images were removed too, so the CLI builds the dev image again through compose (the
BuildKit cache is kept, as on any developer machine: this is not a from-scratch build).
Rebuilt: `--build-no-cache` as well, so every build step runs again (apt, user, both pip
installs); only pip's download cache (a BuildKit cache mount) stays warm, so this is a first
build minus the downloads.
Without .devcontainer/ or the CLI the rows say n/a.

fresh clone: what a first `make up` costs on a machine that never built the project: a fresh
copy whose Dockerfile's cache mounts get ids of their own (so every package is downloaded
again, through whatever network and proxy the machine has), built with `--no-cache` (every
step runs: apt, the installer, the pins), then `compose up` until /healthz answers 200. The
base image is local, as after a `docker pull`. Once as berth builds (uv) and once with the
pip baseline (tools/bench/pip.Dockerfile), interleaved.
"""

from __future__ import annotations

import time

from tools.harness.commands import unique
from tools.harness.devcontainer import DevContainer, find_cli
from tools.harness.docker import cold_build_caches
from tools.harness.net import http
from tools.harness.project import ROOT

from .common import Context, FigureResult, Row, Target, bounded, log


def _healthy(url: str) -> bool:
    try:
        return http("GET", url, timeout=2).status == 200
    except OSError:
        return False


def run_compose_up(ctx: Context, figure: FigureResult) -> None:
    rounds = ctx.options.count(10, quick=2)
    row = Row(
        figure.name,
        "compose up (images built) until /healthz 200",
        "s",
        targets=[Target("median", "<=", 3, "s")],
    )
    returned = Row(figure.name, "compose up -d returns", "s")
    figure.rows += [row, returned]
    project = ctx.copy("up")
    ctx.image("dev")
    for i in range(rounds):
        with ctx.dev_stack(project) as stack:
            start = time.monotonic()
            stack.up(wait=False)
            returned.samples.append(time.monotonic() - start)
            bounded(
                lambda s=stack: _healthy(f"{s.url}/healthz"),
                timeout=60,
                interval=0.02,
                what="/healthz 200",
            )
            row.samples.append(time.monotonic() - start)
        log(f"compose up {i + 1}/{rounds}: {row.samples[-1]:.2f} s")


def run_devcontainer(ctx: Context, figure: FigureResult) -> None:
    warm_rounds = ctx.options.count(5, quick=1)
    cold_rounds = ctx.options.count(3, quick=1)
    rebuilt_rounds = ctx.options.count(2, quick=1)
    rows = {
        "rebuilt": Row(figure.name, "devcontainer up, --build-no-cache (pip cache warm)", "s"),
        "rebuilt-serving": Row(
            figure.name, "devcontainer up, --build-no-cache, until /healthz 200", "s"
        ),
        "cold": Row(figure.name, "devcontainer up, cold (images removed, build cache kept)", "s"),
        "cold-serving": Row(figure.name, "devcontainer up, cold, until /healthz 200", "s"),
        "warm": Row(figure.name, "devcontainer up, warm (images built)", "s"),
        "warm-serving": Row(figure.name, "devcontainer up, warm, until /healthz 200", "s"),
    }
    figure.rows += rows.values()
    cli, why = find_cli()
    if not (ROOT / ".devcontainer" / "devcontainer.json").is_file():
        cli, why = None, "no .devcontainer/devcontainer.json in this checkout"
    if cli is None:
        for row in rows.values():
            row.skipped = f"n/a: {why}"
        return
    workspace = ctx.copy("devcontainer")
    dc = DevContainer(cli, workspace, ctx.tmp / f"{workspace.name}-cli", unique("berth-bench-dc"))
    try:
        # Rebuilt and cold rounds first; every round after them finds the images built (warm).
        kinds = ["rebuilt"] * rebuilt_rounds + ["cold"] * cold_rounds + ["warm"] * warm_rounds
        for kind in kinds:
            if kind != "warm":
                dc.remove_images()
            returned, serving = dc.up(*(["--build-no-cache"] if kind == "rebuilt" else []))
            rows[kind].samples.append(returned)
            rows[f"{kind}-serving"].samples.append(serving)
            log(f"devcontainer up ({kind}): returned {returned:.2f} s, serving {serving:.2f} s")
            dc.down()
    finally:
        dc.down()
        dc.remove_images()


def run_fresh(ctx: Context, figure: FigureResult) -> None:
    rounds = ctx.options.count(2, quick=1)
    rows = {
        "dev": Row(
            figure.name,
            "fresh clone, empty build cache: build + compose up until /healthz 200 (uv)",
            "s",
            targets=[Target("median", "<=", 15, "s")],
        ),
        "pip-dev": Row(figure.name, "fresh clone, empty build cache: pip baseline", "s"),
    }
    figure.rows += rows.values()
    for i in range(rounds):
        for target, row in rows.items():
            project = ctx.copy("fresh")
            dockerfile = "tools/bench/pip.Dockerfile" if target.startswith("pip-") else "Dockerfile"
            cold_build_caches(project, dockerfile)
            tag = ctx.tag(f"fresh-{target}-{i}")
            start = time.monotonic()
            ctx.build(project, target, tag, "--no-cache")
            with ctx.dev_stack(project, image=tag) as stack:
                stack.up(wait=False)
                bounded(lambda s=stack: _healthy(f"{s.url}/healthz"), timeout=120, interval=0.05)
                row.samples.append(time.monotonic() - start)
            log(f"fresh clone {i + 1}/{rounds}: {target} {row.samples[-1]:.1f} s")


def run_up(ctx: Context) -> FigureResult:
    figure = FigureResult("up", "Start-up")
    run_compose_up(ctx, figure)
    run_fresh(ctx, figure)
    run_devcontainer(ctx, figure)
    return figure
