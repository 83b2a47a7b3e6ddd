"""Figures 15 (arm64) and 16 (rootless): the images built for linux/arm64, and the dev loop on
a rootless engine. Both are opt-in (`scripts/bench arm64 rootless`): they need a setup of their
own and take long.

15. arm64 (`arm64`): the prod and dev images built for linux/amd64 and linux/arm64 on the same
    machine, side by side in one run. Cold: a fresh copy whose cache mounts get ids of their own,
    built with `--no-cache` (every step runs, every package downloaded), as in figure 5 (up):
    the fresh clone. Code-only: after the last cold build of the same copy, the index text in
    app/health.py changed and the image built again, as in figure 2 (rebuild). The arm64 base
    image is PYTHON_IMAGE_ARM64 (else PYTHON_IMAGE, else the official python:3.13-slim). On an
    amd64 machine arm64 runs under QEMU and the rows say "emulated": the ratio tells what CI
    pays to build for a Mac, never how fast a Mac is.

16. rootless (`rootless`): the dev stack on the machine's engine and on a rootless one
    (ROOTLESS_DOCKER_HOST, e.g. unix:///run/user/1000/docker.sock; Docker's rootless mode),
    rounds interleaved. Each engine builds this tree's dev image (untimed) and gets a copy of the
    project owned by the user it runs as (the owner of its socket), as its developer has.
    `compose up` (no build): `docker compose -f docker-compose.dev.yml up -d --wait`, from
    nothing until the service is healthy; each round starts from nothing (`down -v`, untimed).
    Save to served: as figure 1 (reload): a write of app/health.py on the host, then GET / until
    it shows the change, debugpy listening, after a warm-up save.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tools.harness.commands import unique
from tools.harness.compose import dev_stack
from tools.harness.docker import build, cold_build_caches, docker
from tools.harness.platforms import ARM64, base_image, problem
from tools.harness.project import owned_checkout

from .common import Context, FigureResult, Row, log
from .rebuild import _edit_code
from .reload import measure

AMD64 = "linux/amd64"
TARGETS = ("prod", "dev")


def _emulated(platform_name: str) -> bool:
    machine = platform.machine().lower()
    native = {"x86_64": AMD64, "amd64": AMD64, "aarch64": ARM64, "arm64": ARM64}.get(machine)
    return native != platform_name


def _label(platform_name: str) -> str:
    return f"{platform_name}{' (emulated)' if _emulated(platform_name) else ''}"


def _platform_args(platform_name: str) -> list[str]:
    return ["--platform", platform_name, "--build-arg", f"PYTHON_IMAGE={base_image(platform_name)}"]


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def run_arm64(ctx: Context) -> FigureResult:
    figure = FigureResult("arm64", "Builds for linux/arm64 beside linux/amd64")
    cold_rounds = ctx.options.count(2, quick=1)
    code_rounds = ctx.options.count(5, quick=1)
    platforms = (AMD64, ARM64)
    rows: dict[tuple[str, str, str], Row] = {}
    for kind in ("cold", "code-only"):
        for target in TARGETS:
            for name in platforms:
                rows[kind, target, name] = Row(
                    figure.name, f"{kind} build: {target}, {_label(name)}", "s"
                )
    figure.rows += rows.values()
    why = next((p for p in map(problem, platforms) if p), None)
    if why:
        for row in rows.values():
            row.skipped = f"n/a: {why}"
        return figure
    # The last cold build of each image is the first build of its code-only rounds.
    built: dict[tuple[str, str], tuple[Path, str]] = {}
    for i in range(cold_rounds):
        for target in TARGETS:
            for name in platforms:
                project = ctx.copy(f"arm64-{target}")
                cold_build_caches(project)
                tag = ctx.tag(unique(f"arm64-{target}"))
                seconds, _ = ctx.build(project, target, tag, "--no-cache", *_platform_args(name))
                rows["cold", target, name].samples.append(seconds)
                log(f"arm64 {i + 1}/{cold_rounds}: cold {target} {name} {seconds:.1f} s")
                built[target, name] = project, tag
    for i in range(code_rounds):
        for (target, name), (project, tag) in built.items():
            _edit_code(project, f"(arm64 {ctx.repo} {i})")
            seconds, _ = ctx.build(project, target, tag, *_platform_args(name))
            rows["code-only", target, name].samples.append(seconds)
            log(f"arm64 {i + 1}/{code_rounds}: code-only {target} {name} {seconds:.2f} s")
    for kind in ("cold", "code-only"):
        for target in TARGETS:
            arm, amd = rows[kind, target, ARM64], rows[kind, target, AMD64]
            ratio = Row(figure.name, f"{kind} {target}: {_label(ARM64)} / {AMD64} (medians)", "x")
            ratio.samples = [_median(arm.samples) / _median(amd.samples)]
            figure.rows.append(ratio)
    return figure


# -- rootless -----------------------------------------------------------------------------


@contextlib.contextmanager
def _engine(host: str | None) -> Iterator[None]:
    """Every docker and compose command of this process goes to ``host`` meanwhile (None: the
    default engine)."""
    saved = os.environ.get("DOCKER_HOST")
    if host:
        os.environ["DOCKER_HOST"] = host
    else:
        os.environ.pop("DOCKER_HOST", None)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = saved


def _socket_owner(host: str) -> int:
    """The uid a unix-socket engine runs as (the owner of its socket)."""
    return os.stat(host.removeprefix("unix://")).st_uid


@contextlib.contextmanager
def _checkout(name: str, uid: int | None) -> Iterator[Path]:
    """A copy of the project that ``uid`` owns, in a folder any user may enter (a rootless
    engine bind-mounts it as its own user); removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"berth-bench-{name}-"))
    try:
        folder.chmod(0o755)
        yield owned_checkout(folder / "berth", uid, uid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_rootless(ctx: Context) -> FigureResult:
    figure = FigureResult("rootless", "The dev loop on a rootless engine beside a rootful one")
    rounds = ctx.options.count(5, quick=1)
    saves = ctx.options.count(10, quick=3)
    rootless = os.environ.get("ROOTLESS_DOCKER_HOST", "").strip()
    engines = {"rootful": None, "rootless": rootless}
    up = {e: Row(figure.name, f"compose up --wait until healthy: {e}", "s") for e in engines}
    served = {e: Row(figure.name, f"save to served: {e}", "s") for e in engines}
    figure.rows += [*up.values(), *served.values()]
    if not rootless:
        for row in figure.rows:
            row.skipped = "n/a: set ROOTLESS_DOCKER_HOST to a rootless engine's socket"
        return figure
    with contextlib.ExitStack() as cleanup:
        images: dict[str, str] = {}
        projects: dict[str, Path] = {}
        for name, host in engines.items():
            owner = _socket_owner(host) if host else None
            projects[name] = cleanup.enter_context(_checkout(name, owner))
            with _engine(host):
                tag = f"{ctx.repo}:rootless-{name}"
                log(f"rootless: building the dev image on the {name} engine")
                build(projects[name], "dev", tag, timeout=1200)
            images[name] = tag
            cleanup.callback(_remove, host, tag)
        for i in range(rounds):
            for name, host in engines.items():
                with (
                    _engine(host),
                    dev_stack(
                        projects[name], unique("berth-bench"), up=False, image=images[name]
                    ) as stack,
                ):
                    start = time.monotonic()
                    stack.up(wait=True)
                    up[name].samples.append(time.monotonic() - start)
                    if i == 0:
                        served[name].samples = measure(stack, projects[name], saves)
                log(f"rootless {i + 1}/{rounds}: {name} up {up[name].samples[-1]:.2f} s")
    for rows, what in ((up, "compose up"), (served, "save to served")):
        ratio = Row(figure.name, f"{what}: rootless / rootful (medians)", "x")
        ratio.samples = [_median(rows["rootless"].samples) / _median(rows["rootful"].samples)]
        figure.rows.append(ratio)
    return figure


def _remove(host: str | None, tag: str) -> None:
    with _engine(host):
        docker("image", "rm", tag, check=False, timeout=60)
