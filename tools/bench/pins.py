"""Figure 11: a pin change applied in the running dev stack (bind-mount mode).

A temp copy of the project, whose GET / ends with what the serving app process could import
(tools/harness/pins.py), bind-mounted by the real dev stack with this run's dev image. Each
round writes requirements.txt on the host in one go, alternately adding a pin of six (with its
hashes) and removing it again, and polls GET / every 50 ms until the probe shows the new state.
The figure is the time from just before the write until that answer: the dev server notices the
change (it looks twice a second and waits 0.3 s for the files to settle), uv syncs the venv
(downloading six the first time), and a new app process starts on it. The dev server's own
figure for the uv step ("pins synced in X s") is kept from its log.
"""

from __future__ import annotations

import re
import time

from tools.harness import pins
from tools.harness.net import wait_for_http

from .common import Context, FigureResult, Row, Target, bounded, log

SETTLE = 1.0  # seconds between a served change and the next one
TIMEOUT = 60.0  # per round


def run_pins(ctx: Context) -> FigureResult:
    figure = FigureResult("pins", "Pin change applied live")
    rounds = ctx.options.count(6, quick=2)
    row = Row(
        figure.name,
        "pin added or removed, bind mount: write until served",
        "s",
        targets=[Target("median", "<=", 5, "s")],
    )
    synced = Row(figure.name, "of which the sync with uv (dev server log)", "s")
    figure.rows += [row, synced]
    project = ctx.copy("pins")
    pins.add_import_probe(project)
    with ctx.dev_stack(project) as stack:
        stack.up(wait=False)
        wait_for_http(f"{stack.url}/healthz", timeout=60)
        for i in range(rounds):
            adding = i % 2 == 0
            expected = pins.VERSION if adding else "missing"
            start = time.monotonic()
            pins.set_pin(project, pins.PIN if adding else None)
            bounded(
                lambda e=expected: pins.served_version(stack.url) == e,
                timeout=TIMEOUT,
                interval=0.05,
                what=f"the probe showing {expected}",
            )
            row.samples.append(time.monotonic() - start)
            log(
                f"pins {i + 1}/{rounds}: {'added' if adding else 'removed'} {row.samples[-1]:.2f} s"
            )
            time.sleep(SETTLE)
        logged = stack.compose("logs", "--no-color", check=False, timeout=30).stdout
    synced.samples = [float(s) for s in re.findall(r"pins synced in ([\d.]+) s", logged)]
    return figure
