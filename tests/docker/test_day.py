"""A short working day on the dev stack (tools/harness/day.py; the benchmark's figure 14 (day) plays a
longer one and times it): every kind of save, syntax errors, debug sessions left in every way an
editor leaves them with a new attach at once, clients that do not follow app processes, port
checks, a killed adapter and a pin change. Whatever happens, every save is served, every attach
stops at its breakpoint, and nothing but the killed adapter restarts anything."""

from __future__ import annotations

import shutil

from tools.harness.commands import unique
from tools.harness.compose import dev_stack
from tools.harness.day import Day, run_day
from tools.harness.project import owned_checkout

SEED = 16
ACTIONS = 45  # each kind of action at least once, the rest drawn by weight


def test_a_working_day(docker_engine, tmp_path):
    workspace = owned_checkout(tmp_path / "berth")
    with dev_stack(workspace, unique("berth-day")) as stack:
        day = Day(stack.target(), stack.container(), SEED, think=(0.3, 0.8))
        summary = run_day(day, Day.plan(SEED, ACTIONS, every=True))
        log = stack.logs()
    shutil.rmtree(workspace, ignore_errors=True)
    failures = [o for o in day.outcomes if not o.ok]
    assert not failures, "\n".join(map(str, failures)) + "\n" + log[-4000:]
    kinds = {o.kind for o in day.outcomes}
    assert kinds == {"save", "attach", "recovery", "pin"}, kinds
    assert summary["restarts in place not caused by a killed adapter"] == 0, log[-4000:]
    assert summary["unclaimed app processes"] == 0, log[-4000:]
    assert summary["container restarts"] == 0
    assert summary["container running"]
    saves = sorted(o.seconds for o in day.outcomes if o.kind == "save")
    print(f"{len(saves)} saves served; median {saves[len(saves) // 2]:.2f} s, max {saves[-1]:.2f}")
