"""Figures 2 (rebuild) and 3 (deps): how long a rebuild takes after a code change and after a
pin change.

2. Code-only rebuild (`rebuild`): in a temp copy of the project, each round rewrites the index
   text in app/health.py (a unique marker, so no earlier build's cache can answer) and times
   `docker buildx build --load --target T` for prod, dev and the naive single-stage
   tools/bench/naive.Dockerfile, all from the same copy, on the same base image, in the same run.
   Every image is built once first (untimed) so that each timed build starts from a cache that
   holds the previous version, as on a developer's machine.

3. Dependency pin change (`deps`): each round changes one runtime pin in requirements.txt,
   alternating blinker between the locked release and the previous one (1.8.2, with its real
   wheel hash), plus a unique comment so that BuildKit never finds an earlier round's layer,
   and times the build of each image after a change of its own: prod and dev as berth builds
   them (uv), and the pip baseline (tools/bench/pip.Dockerfile: the same stages as pip built them
   before uv), all from copies of the same tree in the same run, interleaved. The download
   caches are warm (only the first round with 1.8.2 downloads it), so this is the everyday
   "bump one pin" rebuild: the install steps rerun from the cache.
"""

from __future__ import annotations

import re

from .common import Context, FigureResult, Row, Target, executed_steps, log

INDEX_LINE = "berth: a small JSON notes service"
# The release before the locked blinker 1.9.0; the hash is PyPI's for its py3 wheel.
OLD_PIN = (
    "blinker==1.8.2 \\\n"
    "    --hash=sha256:1779309f71bf239144b9399d06ae925637cf6634cf6bd131104184531bf67c01\n"
)
DEPS_STEP = re.compile(r"\[(deps|dev-deps) \d+/\d+\] ")
PIN_BLOCK = re.compile(r"^blinker==\S+ \\\n(?:    --hash=\S+(?: \\)?\n)+", re.MULTILINE)


def _edit_code(project, marker: str) -> None:
    path = project / "app" / "health.py"
    text = path.read_text()
    text = re.sub(re.escape(INDEX_LINE) + r".*", f"{INDEX_LINE} {marker}", text, count=1)
    path.write_text(text)


def run_rebuild(ctx: Context) -> FigureResult:
    figure = FigureResult("rebuild", "Code-only rebuild")
    rounds = ctx.options.count(10, quick=1)
    project = ctx.copy("rebuild")
    tags = {t: ctx.tag(f"rebuild-{t}") for t in ("prod", "dev", "naive")}
    times: dict[str, list[float]] = {t: [] for t in tags}
    steps: dict[str, list[list[str]]] = {t: [] for t in tags}
    excluded: dict[str, list[float]] = {t: [] for t in tags}
    for target, tag in tags.items():
        log(f"rebuild: warm-up build of {target}")
        ctx.build(project, target, tag)
    for i in range(rounds):
        _edit_code(project, f"(rebuild {ctx.repo} {i})")
        for target, tag in tags.items():
            seconds, output = ctx.build(project, target, tag)
            ran = executed_steps(output)
            steps[target].append(ran)
            if target != "naive" and any(DEPS_STEP.match(step) for step in ran):
                # Not a code-only rebuild: something else on the engine (another build, the
                # BuildKit garbage collector) replaced or evicted the dependency layers.
                excluded[target].append(seconds)
                log(f"rebuild {i + 1}/{rounds}: {target} {seconds:.2f} s, EXCLUDED: deps rebuilt")
                continue
            times[target].append(seconds)
            log(f"rebuild {i + 1}/{rounds}: {target} {seconds:.2f} s")
    labels = {
        "prod": "code-only rebuild: prod",
        "dev": "code-only rebuild: dev",
        "naive": "code-only rebuild: naive single-stage",
    }
    for target, label in labels.items():
        row = Row(figure.name, label, "s", times[target])
        if excluded[target]:
            row.note = (
                f"{len(excluded[target])} round(s) left out: the build cache had lost the "
                f"dependency layers ({', '.join(f'{x:.1f}' for x in excluded[target])} s)"
            )
        figure.rows.append(row)
    ratio = Row(
        figure.name, "naive / prod (medians)", "x", targets=[Target("median", ">=", 10, "x")]
    )
    if times["naive"] and times["prod"]:
        ratio.samples = [_median(times["naive"]) / _median(times["prod"])]
    else:
        ratio.skipped = "n/a: no valid prod or naive rounds"
    figure.rows.append(ratio)
    figure.details["executed_steps"] = steps
    figure.details["excluded_seconds"] = excluded
    return figure


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _edit_pin(project, original: str, old: bool, marker: str) -> None:
    text = PIN_BLOCK.sub(OLD_PIN, original, count=1) if old else original
    if text == original and old:
        raise RuntimeError("requirements.txt has no blinker pin to change")
    (project / "requirements.txt").write_text(f"{text}# bench: {marker}\n")


# The install step that a pin change must rerun, by target.
INSTALL_STEPS = {
    "prod": re.compile(r"\[deps \d+/\d+\] RUN --mount"),
    "dev": re.compile(r"\[dev-deps \d+/\d+\] RUN --mount"),
    "pip-prod": re.compile(r"\[deps \d+/\d+\] RUN --mount"),
    "pip-dev": re.compile(r"\[(dev-)?deps \d+/\d+\] RUN --mount"),
}
DEPS_LABELS = {
    "prod": "one pin changed, caches warm: prod (uv)",
    "dev": "one pin changed, caches warm: dev (uv)",
    "pip-prod": "one pin changed, caches warm: prod, pip baseline",
    "pip-dev": "one pin changed, caches warm: dev, pip baseline",
}


def run_deps(ctx: Context) -> FigureResult:
    figure = FigureResult("deps", "Rebuild after a pin change")
    rounds = ctx.options.count(5, quick=1)
    projects = {"uv": ctx.copy("deps"), "pip": ctx.copy("deps-pip")}
    original = (projects["uv"] / "requirements.txt").read_text()
    tags = {t: ctx.tag(f"deps-{t}") for t in DEPS_LABELS}
    project_of = {t: projects["pip" if t.startswith("pip-") else "uv"] for t in tags}
    for target, tag in tags.items():
        log(f"deps: warm-up build of {target}")
        ctx.build(project_of[target], target, tag)
    times: dict[str, list[float]] = {t: [] for t in tags}
    steps: dict[str, list[list[str]]] = {t: [] for t in tags}
    change = 0
    for i in range(rounds):
        for target, tag in tags.items():
            change += 1
            # Every target pins the previous release in even rounds and the lock's in odd ones
            # (counting the changes instead gave each target the same pin in every round).
            _edit_pin(project_of[target], original, i % 2 == 0, f"{ctx.repo} {change}")
            seconds, output = ctx.build(project_of[target], target, tag)
            times[target].append(seconds)
            ran = executed_steps(output)
            steps[target].append(ran)
            if not any(INSTALL_STEPS[target].match(step) for step in ran):
                raise RuntimeError(f"the pin change did not rerun the install step: {ran}")
            log(f"deps {i + 1}/{rounds}: {target} {seconds:.2f} s")
    targets = {"prod": Target("median", "<=", 1.5, "s"), "dev": Target("median", "<=", 2, "s")}
    for target, label in DEPS_LABELS.items():
        row = Row(figure.name, label, "s", times[target])
        row.targets = [targets[target]] if target in targets else []
        figure.rows.append(row)
    for kind in ("prod", "dev"):
        ratio = Row(figure.name, f"{kind}: pip baseline / uv (medians)", "x")
        ratio.samples = [_median(times[f"pip-{kind}"]) / _median(times[kind])]
        figure.rows.append(ratio)
    figure.details["executed_steps"] = steps
    return figure
