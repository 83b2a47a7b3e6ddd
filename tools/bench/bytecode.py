"""Figure 12: byte-compiled packages or not, the trade-off behind `--compile-bytecode`.

uv does not compile what it installs unless asked (pip always did). Both images run with
PYTHONDONTWRITEBYTECODE=1 (prod also on a read-only root file system), so packages installed
without bytecode are compiled again in memory by every process that imports them. Two copies of
the tree, built side by side in the same run: the Dockerfile as it is (compiled), and the same
with every `--compile-bytecode` removed.

- rebuild after one pin changed (as figure 3 (deps)), prod and dev, alternating;
- prod start-up: `docker run -d` of the image until GET /healthz answers 200 (gunicorn, 2
  workers, each importing the app);
- dev start-up: `compose up -d --no-build` until /healthz answers 200 (the dev server and its
  first app process, debugpy listening);
- dev reload: a saved file until served (as figure 1 (reload), debugpy listening).
"""

from __future__ import annotations

import time

from tools.harness.docker import container
from tools.harness.net import free_port, wait_for_http

from .common import Context, FigureResult, Row, bounded, log
from .rebuild import _edit_pin
from .reload import measure
from .startup import _healthy

VARIANTS = ("compiled", "not compiled")


def _without_bytecode(project) -> None:
    dockerfile = project / "Dockerfile"
    text = dockerfile.read_text()
    if "--compile-bytecode" not in text:
        raise RuntimeError("the Dockerfile no longer compiles with --compile-bytecode")
    dockerfile.write_text(text.replace(" --compile-bytecode", ""))


def _rebuilds(ctx, figure, projects, original, target, rounds) -> dict[str, str]:
    rows = {v: Row(figure.name, f"{target}: one pin changed, rebuild, {v}", "s") for v in VARIANTS}
    figure.rows += rows.values()
    tags = {v: ctx.tag(f"bytecode-{target}-{v.replace(' ', '-')}") for v in VARIANTS}
    for variant, tag in tags.items():
        ctx.build(projects[variant], target, tag)
    change = 0
    for i in range(rounds):
        for variant, tag in tags.items():
            change += 1
            # Both variants get the same pin in a round, and each alternates between rounds.
            # The target in the marker: the dev rounds must not write what a prod round built.
            marker = f"{ctx.repo} bc {target} {change}"
            _edit_pin(projects[variant], original, i % 2 == 0, marker)
            seconds, _ = ctx.build(projects[variant], target, tag)
            rows[variant].samples.append(seconds)
            log(f"bytecode {i + 1}/{rounds}: {target} rebuild, {variant}: {seconds:.2f} s")
    return tags


def run_bytecode(ctx: Context) -> FigureResult:
    figure = FigureResult("bytecode", "Compiled packages or not")
    builds = ctx.options.count(3, quick=1)
    starts = ctx.options.count(5, quick=1)
    projects = {v: ctx.copy("bytecode") for v in VARIANTS}
    _without_bytecode(projects["not compiled"])
    # The lock's pins, read before any edit: the prod rounds leave an edited file behind.
    original = (projects["compiled"] / "requirements.txt").read_text()
    prod = _rebuilds(ctx, figure, projects, original, "prod", builds)
    dev = _rebuilds(ctx, figure, projects, original, "dev", builds)

    rows = {v: Row(figure.name, f"prod: docker run until /healthz 200, {v}", "s") for v in VARIANTS}
    figure.rows += rows.values()
    for i in range(starts):
        for variant in VARIANTS:
            port = free_port()
            start = time.monotonic()
            with container(
                prod[variant], "--read-only", "--tmpfs", "/tmp", "-p", f"127.0.0.1:{port}:8000"
            ):
                wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, interval=0.02)
                rows[variant].samples.append(time.monotonic() - start)
            seconds = rows[variant].samples[-1]
            log(f"bytecode {i + 1}/{starts}: prod start, {variant}: {seconds:.2f} s")

    up = {v: Row(figure.name, f"dev: compose up until /healthz 200, {v}", "s") for v in VARIANTS}
    reload = {v: Row(figure.name, f"dev: reload, {v}", "s") for v in VARIANTS}
    figure.rows += [*up.values(), *reload.values()]
    for variant in VARIANTS:
        for i in range(starts):
            with ctx.dev_stack(projects[variant], image=dev[variant]) as stack:
                start = time.monotonic()
                stack.up(wait=False)
                bounded(lambda s=stack: _healthy(f"{s.url}/healthz"), timeout=60, interval=0.02)
                up[variant].samples.append(time.monotonic() - start)
                if i == starts - 1:
                    reload[variant].samples = measure(stack, projects[variant], starts * 2)
            log(f"bytecode {i + 1}/{starts}: dev up, {variant}: {up[variant].samples[-1]:.2f} s")
    return figure
