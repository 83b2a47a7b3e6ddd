"""Figure 5: from `up` to a serving app, with the images already built.

compose: `docker compose -f docker-compose.dev.yml up -d --no-build` (this run's dev image,
default settings: DEBUGPY=1, watchdog reloader) from a temp copy of the project, timed from just
before the command until GET /healthz on the published port answers 200 (polled every 20 ms).
Each round starts from nothing (the previous round's `down -v` removed the containers, the
network and the data volume; untimed), so network and volume creation are included.

devcontainer: `devcontainer up --workspace-folder <temp copy>` with the CLI pinned in
package.json, timed until the command returns (after postCreateCommand) and until /healthz
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
pip baseline (bench/pip.Dockerfile), interleaved.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.support.containers import (
    ROOT,
    cold_build_caches,
    compose_down,
    compose_project_images,
    devcontainer_uid_image,
    docker,
    find_tool,
    free_ports,
    http,
    unique,
)

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
            stack.up()
            returned.samples.append(time.monotonic() - start)
            bounded(
                lambda s=stack: _healthy(f"{s.url}/healthz"),
                timeout=60,
                interval=0.02,
                what="/healthz 200",
            )
            row.samples.append(time.monotonic() - start)
        log(f"compose up {i + 1}/{rounds}: {row.samples[-1]:.2f} s")


class _DevContainer:
    def __init__(self, ctx: Context, cli: str) -> None:
        self.cli = cli
        self.workspace = ctx.copy("devcontainer")
        self.project = unique("berth-bench-dc")
        self.tag = ctx.tag("devcontainer")
        self.app_port, self.debugpy_port = free_ports(2)
        cli_tmp = ctx.tmp / f"{self.project}-tmp"
        cli_tmp.mkdir()
        self.log_dir = cli_tmp
        # As a developer's editor runs it.
        self.env = {k: v for k, v in os.environ.items() if k != "COMPOSE_FILE"}
        self.env.update(
            TMPDIR=str(cli_tmp),
            COMPOSE_PROJECT_NAME=self.project,
            APP_PORT=str(self.app_port),
            DEBUGPY_PORT=str(self.debugpy_port),
        )
        self.uid_image = devcontainer_uid_image(self.workspace)
        self.images: set[str] = {f"{self.project}-web", self.uid_image}

    def up(self, *flags: str) -> tuple[float, float]:
        """(seconds until `devcontainer up` returned, seconds until it returned and /healthz)."""
        out_path = self.log_dir / "up.out"
        err_path = self.log_dir / "up.err"
        with out_path.open("w") as out, err_path.open("w") as err:
            start = time.monotonic()
            process = subprocess.Popen(
                [self.cli, "up", "--workspace-folder", str(self.workspace), *flags],
                stdout=out,
                stderr=err,
                text=True,
                env=self.env,
            )
            healthy_at = returned_at = None
            try:
                while returned_at is None or healthy_at is None:
                    if time.monotonic() - start > 900:
                        raise TimeoutError("devcontainer up: no healthy app within 900 s")
                    if returned_at is None and process.poll() is not None:
                        returned_at = time.monotonic()
                        if process.returncode != 0:
                            break
                    if healthy_at is None and _healthy(f"http://127.0.0.1:{self.app_port}/healthz"):
                        healthy_at = time.monotonic()
                    time.sleep(0.02)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
        output = out_path.read_text()
        results = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not results or results[-1].get("outcome") != "success":
            raise RuntimeError(
                f"devcontainer up failed ({process.returncode}):\n{output[-2000:]}\n"
                f"{err_path.read_text()[-3000:]}"
            )
        return returned_at - start, max(returned_at, healthy_at) - start

    def down(self) -> None:
        self.images |= compose_project_images(self.project)
        compose_down(self.project)

    def remove_images(self) -> None:
        for image in sorted(self.images):
            docker("image", "rm", "-f", image, check=False)


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
    cli = find_tool("devcontainer")
    why = ""
    if not (ROOT / ".devcontainer" / "devcontainer.json").is_file():
        why = "n/a: no .devcontainer/devcontainer.json in this checkout"
    elif cli is None:
        why = "n/a: the Dev Containers CLI is missing (run `npm ci`)"
    if why:
        for row in rows.values():
            row.skipped = why
        return
    dc = _DevContainer(ctx, cli)
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
            dockerfile = "bench/pip.Dockerfile" if target.startswith("pip-") else "Dockerfile"
            cold_build_caches(project, dockerfile)
            tag = ctx.tag(f"fresh-{target}-{i}")
            start = time.monotonic()
            ctx.build(project, target, tag, "--no-cache")
            with ctx.dev_stack(project, image=tag) as stack:
                stack.up()
                bounded(lambda s=stack: _healthy(f"{s.url}/healthz"), timeout=120, interval=0.05)
                row.samples.append(time.monotonic() - start)
            log(f"fresh clone {i + 1}/{rounds}: {target} {row.samples[-1]:.1f} s")


def run_up(ctx: Context) -> FigureResult:
    figure = FigureResult("up", "Start-up")
    run_compose_up(ctx, figure)
    run_fresh(ctx, figure)
    run_devcontainer(ctx, figure)
    return figure
