"""Figure 14: a working day in the dev stack.

A seeded plan of actions (tools/harness/day.py: saves written the ways editors write them, syntax
errors and their fixes, debug sessions left in every way an editor leaves them and each followed
at once by a new attach, clients that do not follow app processes, port checks, a killed debug
adapter, pin changes), played on the real dev stack of a temp copy of the project with this run's
dev image. With ``--against COMMIT`` the same plan is played on that commit's stack too, one
action on each stack in turn, so that both meet the same moments of a noisy machine.

Figures: save to served (from the first byte written until GET / shows it), overall, with a
following editor attached, and by what came just before; attach until stopped at the breakpoint
(no retry, also right after each way of leaving); recovery after the adapter is killed (until a
new attach stops, retrying); a pin change until the serving app imports it. Counted: attaches
that stopped at their breakpoint, restarts in place not caused by a killed adapter, container
restarts.
"""

from __future__ import annotations

import collections
import contextlib
from dataclasses import asdict

from tools.harness.day import Day
from tools.harness.net import wait_for_http

from .common import Context, FigureResult, Row, Target, log, percentile

SEED = 20261202


def run_day_figure(ctx: Context) -> FigureResult:
    figure = FigureResult("day", "A working day")
    count = ctx.options.count(200, quick=30)
    actions = Day.plan(SEED, count)
    days: dict[str, Day] = {}
    with contextlib.ExitStack() as stacks:
        for label, tree in ctx.trees():
            project = ctx.copy("day", tree)
            stack = stacks.enter_context(ctx.dev_stack(project, tree=tree))
            log(f"day: starting the dev stack of {label}")
            stack.up(wait=False)
            wait_for_http(f"{stack.url}/healthz", timeout=120)
            days[label] = Day(stack.target(), stack.container(), SEED)
        summaries = {}
        for number, action in enumerate(actions, 1):
            if number % 25 == 0:
                log(f"day: action {number}/{len(actions)}")
            for day in days.values():
                day.step(action)
        for label, day in days.items():
            summaries[label] = day.finish()
    for label, day in days.items():
        figure.rows += _rows(figure.name, label, day)
    figure.extra_markdown = "\n\n".join(
        _table(label, day, summaries[label]) for label, day in days.items()
    )
    figure.details = {
        "seed": SEED,
        "actions": actions,
        "days": {
            label: {"summary": summaries[label], "outcomes": [asdict(o) for o in day.outcomes]}
            for label, day in days.items()
        },
    }
    return figure


def _seconds(day: Day, kind: str, attached: str | None = None) -> list[float]:
    return [
        o.seconds
        for o in day.outcomes
        if o.kind == kind and o.ok and (attached is None or o.attached == attached)
    ]


def _rows(figure: str, label: str, day: Day) -> list[Row]:
    saves = Row(figure, f"day [{label}]: save to served", "s", _seconds(day, "save"))
    saves.targets = [Target("median", "<=", 0.15, "s"), Target("p99", "<=", 0.5, "s")]
    attached = Row(
        figure,
        f"day [{label}]: save to served, editor attached",
        "s",
        _seconds(day, "save", "following"),
        [Target("median", "<=", 0.2, "s")],
    )
    attach = Row(figure, f"day [{label}]: attach until stopped", "s", _seconds(day, "attach"))
    recovery = Row(
        figure,
        f"day [{label}]: attach after the adapter was killed",
        "s",
        _seconds(day, "recovery"),
        [Target("max", "<=", 2.0, "s")],
    )
    pin = Row(
        figure,
        f"day [{label}]: pin change applied",
        "s",
        _seconds(day, "pin"),
        [Target("max", "<=", 3.0, "s")],
    )
    rows = [saves, attached, attach, recovery, pin]
    for row in rows:
        if not row.samples:
            row.skipped = "n/a: none in this day"
    return rows


def _stats(samples: list[float]) -> str:
    if not samples:
        return "| 0 | | | | |"
    cells = [percentile(samples, q) for q in (50, 95, 99)] + [max(samples)]
    return f"| {len(samples)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |"


def _table(label: str, day: Day, summary: dict) -> str:
    """Save to served by what came just before, and the day's counts."""
    by_before: dict[str, list[float]] = collections.defaultdict(list)
    for o in day.outcomes:
        if o.kind == "save" and o.ok:
            by_before[o.after.partition(":")[0] if o.after.startswith("leave") else o.after].append(
                o.seconds
            )
    lines = [
        f"**Day [{label}]**: save to served (s) by what came just before",
        "",
        "| just before | n | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
        f"| (all) {_stats(_seconds(day, 'save'))}",
    ]
    for before in sorted(by_before, key=lambda b: -len(by_before[b])):
        lines.append(f"| {before} {_stats(by_before[before])}")
    attaches = [o for o in day.outcomes if o.kind in ("attach", "recovery")]
    stopped = sum(o.ok for o in attaches)
    failures = [o for o in day.outcomes if not o.ok]
    lines += [
        "",
        f"Attaches that stopped at their breakpoint: {stopped} of {len(attaches)}"
        + (f" ({100 * stopped / len(attaches):.0f} %)" if attaches else ""),
        f"Restarts in place: {summary['restarts in place']} "
        f"({summary['restarts in place not caused by a killed adapter']} not caused by a killed "
        f"adapter); app processes left unclaimed: {summary['unclaimed app processes']}; "
        f"container restarts: {summary['container restarts']}"
        + ("" if summary["container running"] else " (the container is not running)"),
    ]
    if failures:
        lines += ["", "Failures:"]
        lines += [f"- {o.kind} {o.label!r} after {o.after!r}: {o.detail}" for o in failures[:12]]
    return "\n".join(lines)
