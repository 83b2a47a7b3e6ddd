"""Figure 9: debugger recovery in the compose dev stack.

How long, after something an editor (or anything) does to the debugger, until a new attach from
a VS Code-like client stops at a breakpoint again: after 20 port checks on the debugger port
(connect and close), and after the debug adapter process is killed (the dev server restarts
itself in place). Each round starts the clock at the event and stops it when the breakpoint's
request has stopped, been continued and answered (tools/harness/editors.py, attach_and_hit),
retrying the attach every 0.1 s as a developer would. The kill is timed twice: from the start of
the `docker compose exec` that sends it, as the tests send it (which takes 0.1 to 0.2 s to reach
the container), and from the kill itself, sent by a shell kept open in the container: issue 16's
2 s is the recovery, from the kill.
"""

from __future__ import annotations

import shlex
import socket
import time

from tools.harness import editors
from tools.harness.editors import ServiceTarget
from tools.harness.net import wait_for_http

from .common import Context, FigureResult, Row, Target, log

PROBES = 20
KILL = shlex.join(editors.ADAPTER_KILL)


def _probes(target: ServiceTarget) -> None:
    for _ in range(PROBES):
        socket.create_connection(("127.0.0.1", target.debugpy_port), timeout=5).close()


def run_debugger(ctx: Context) -> FigureResult:
    figure = FigureResult("debugger", "Debugger recovery")
    rounds = ctx.options.count(5, quick=2)
    project = ctx.copy("debugger")
    with ctx.dev_stack(project) as stack:
        stack.up(wait=False)
        wait_for_http(f"{stack.url}/healthz", timeout=60)
        target = stack.target()
        try:
            editors.attach_and_hit(target)  # warm-up: the first attach imports more
        except Exception as exc:
            raise RuntimeError(f"no breakpoint hit: {exc}\n{stack.logs()[-3000:]}") from exc
        with stack.shell() as shell:

            def kill_now(_: ServiceTarget) -> None:
                status = shell.run(KILL)
                assert status == 0, f"{KILL}: exit {status}"

            events = [
                (f"attach after {PROBES} port checks", _probes, [Target("max", "<=", 5.0, "s")]),
                (
                    "attach after the debug adapter is killed, from `compose exec`",
                    ServiceTarget.kill_adapter,
                    [Target("max", "<=", 5.0, "s")],
                ),
                (
                    "attach after the debug adapter is killed, from the kill",
                    kill_now,
                    [Target("max", "<=", 2.0, "s")],
                ),
            ]
            rows = [
                Row(figure.name, f"debugger: {label}", "s", targets=t) for label, _, t in events
            ]
            figure.rows += rows
            # Round by round, each event in turn: a slow spell of the machine weighs on all.
            for _ in range(rounds):
                for (_, event, _), row in zip(events, rows, strict=True):
                    start = time.perf_counter()
                    event(target)
                    editors.attach_and_hit(target, retry_until=time.monotonic() + 30)
                    row.samples.append(time.perf_counter() - start)
                    time.sleep(1.0)
            for row in rows:
                log(f"{row.label}: max {max(row.samples):.2f} s")
    return figure
