"""Figure 1: hot-reload latency of the compose dev stack.

For each variant a temp copy of the project is bind-mounted by the real dev stack
(docker-compose.dev.yml, this run's dev image, free ports on 127.0.0.1). One round: write a
unique marker into the index text of app/health.py on the host (in place, like most editors
save), then poll GET / every 10 ms until the body contains the marker. The figure is the time
from just before the write until that response arrives: file event (or poll scan) -> reloader
kills the child -> new child imports Flask and the app -> first request served.

With ``--against COMMIT`` each variant also runs on that commit's dev stack, one round on each
stack in turn. After each round the stack gets a settle pause (untimed, 1 to 1.5 s at random,
so that edits do not land at a fixed phase of the polling reloader's scans) so the new child's
file watcher is running before the next edit; one warm-up round per variant is not counted.

Variants: DEBUGPY=0; DEBUGPY=1 (debugpy listening, nothing attached; the default stack); DEBUGPY=1
with a DAP client attached that follows every reloader child as VS Code does
(tools/harness/dap.py; each new child waits for that client before it serves); RELOAD_POLL=1
(Werkzeug's stat reloader, 0.25 s scans) with debugpy listening; and Compose Watch mode
(docker-compose.watch.yml, `compose watch` running, no bind mount): the write on the host is
noticed by compose, which waits for 0.5 s of quiet (Compose's fixed debounce), copies the file
into the container, where the reloader sees it.
"""

from __future__ import annotations

import contextlib
import random
import re
import statistics
import time
import uuid

from tools.harness.compose import watching
from tools.harness.dap import DebugSession
from tools.harness.net import http, wait_for_http

from .common import Context, FigureResult, Row, Target, log

INDEX_LINE = "berth: a small JSON notes service"
SETTLE = 1.0  # seconds between a served reload and the next edit, plus a random JITTER:
JITTER = 0.5  # without it every edit would land at the same phase of the polling reloader's scan
# cycle (0.25 s, a divisor of SETTLE), which would bias the RELOAD_POLL variant
TIMEOUT = 30.0  # per round


def _dap_session(stack, project) -> DebugSession:
    """A VS Code-like session following reloader children."""
    # A breakpoint in a route the benchmark never calls: the adapter must still set it in
    # every new child, as it does for an editor with breakpoints.
    notes = project / "app" / "notes.py"
    line = next(
        (n for n, text in enumerate(notes.read_text().splitlines(), 1) if "def " in text),
        1,
    )
    session = DebugSession(
        "127.0.0.1",
        stack.debugpy_port,
        breakpoints={str(notes): [line + 1]},
        path_mappings=[{"localRoot": str(project), "remoteRoot": "/app"}],
        timeout=15,
    )
    return session


def _round(stack, project) -> float:
    """One save of app/health.py in place; the seconds until GET / serves it."""
    source = project / "app" / "health.py"
    marker = f"[reload {uuid.uuid4().hex[:8]}]"
    text = re.sub(
        re.escape(INDEX_LINE) + r".*", f"{INDEX_LINE} {marker}", source.read_text(), count=1
    )
    start = time.perf_counter()
    source.write_text(text)
    deadline = time.monotonic() + TIMEOUT
    while True:
        with contextlib.suppress(OSError):
            answer = http("GET", f"{stack.url}/", timeout=5)
            if answer.status == 200 and marker.encode() in answer.body:
                return time.perf_counter() - start
        if time.monotonic() > deadline:
            raise TimeoutError(f"no reload within {TIMEOUT:g} s\n{stack.logs()[-3000:]}")
        time.sleep(0.01)


def measure(stack, project, rounds: int) -> list[float]:
    """``rounds`` saves on one stack, after a warm-up one, each followed by the settle pause."""
    samples = []
    for i in range(rounds + 1):
        seconds = _round(stack, project)
        if i:
            samples.append(seconds)
        time.sleep(SETTLE + random.uniform(0, JITTER))
    return samples


def run_reload(ctx: Context) -> FigureResult:
    figure = FigureResult("reload", "Hot reload")
    rounds = ctx.options.count(20, quick=3)
    listening = {"DEBUGPY": "1", "RELOAD_POLL": "0"}
    variants = [
        ("DEBUGPY=0", {"DEBUGPY": "0", "RELOAD_POLL": "0"}, False, False),
        ("DEBUGPY=1, listening", listening, False, False),
        ("DEBUGPY=1, DAP client attached", listening, True, False),
        ("RELOAD_POLL=1, DEBUGPY=1 listening", {"DEBUGPY": "1", "RELOAD_POLL": "1"}, False, False),
        ("Compose Watch (no bind mount), DEBUGPY=1 listening", listening, False, True),
    ]
    trees = ctx.trees()
    for label, env, attach, watch in variants:
        rows = {}
        for tree_label, _ in trees:
            suffix = f" [{tree_label}]" if len(trees) > 1 else ""
            row = Row(figure.name, f"reload: {label}{suffix}", "s")
            if label == "DEBUGPY=1, DAP client attached":
                row.targets = [Target("median", "<=", 0.2, "s"), Target("p95", "<=", 0.5, "s")]
            elif watch:
                row.targets = [Target("median", "<=", 1.0, "s")]
            else:
                row.targets = [Target("median", "<=", 0.15, "s")]
            figure.rows.append(row)
            rows[tree_label] = row
        with contextlib.ExitStack() as extra:
            running, sessions = [], {}
            for tree_label, tree in trees:
                project = ctx.copy("reload", tree)
                stack = extra.enter_context(ctx.dev_stack(project, env, watch=watch, tree=tree))
                log(f"reload: {label}: starting the dev stack of {tree_label}")
                stack.up(wait=False)
                wait_for_http(f"{stack.url}/healthz", timeout=60)
                if watch:
                    extra.enter_context(watching(stack))
                if attach:
                    session = _dap_session(stack, project)
                    extra.callback(session.close)
                    session.start()
                    session.wait_child(timeout=20)
                    sessions[tree_label] = session
                running.append((tree_label, stack, project))
            # One round on each stack in turn (round 0 is the warm-up), so that both meet the
            # same moments of a noisy machine.
            for i in range(rounds + 1):
                for tree_label, stack, project in running:
                    seconds = _round(stack, project)
                    if i:
                        rows[tree_label].samples.append(seconds)
                    time.sleep(SETTLE + random.uniform(0, JITTER))
            for tree_label, session in sessions.items():
                figure.details[f"dap {label} [{tree_label}]"] = {
                    "children_announced": session.child_announcements,
                    "errors": session.errors,
                }
                if session.errors:
                    rows[tree_label].note = f"DAP errors: {session.errors[:2]}"
        for tree_label, row in rows.items():
            if row.samples:
                log(
                    f"reload: {label} [{tree_label}]: median {statistics.median(row.samples):.3f} s"
                )
    return figure
