"""What every figure shares: statistics, result rows, the run context (images, temp copies,
cleanup) and a few Docker / compose helpers on top of tools/harness.

Only the standard library is used, so `python3 -m bench` works without the test venv.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.harness.commands import run, unique
from tools.harness.compose import COMPOSE_FILE, WATCH_FILE, dev_stack
from tools.harness.docker import build, build_steps, docker
from tools.harness.project import COPY_IGNORE, ROOT, copy_project, export_tree

MB = 1_000_000  # decimal megabytes, as `docker images` counts them
# Images berth does not build, for comparison: target -> (Dockerfile in tools/bench/, its stage).
BASELINES = {
    "naive": ("naive.Dockerfile", "naive"),  # a single-stage Dockerfile as tutorials have it
    "pip-prod": ("pip.Dockerfile", "prod"),  # berth's stages with pip: what uv is compared to
    "pip-dev": ("pip.Dockerfile", "dev"),
}


# -- statistics ------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as numpy's default ("linear"): with n samples the sorted values sit at
    ranks 0..n-1 and the percentile is read at rank (n - 1) * q / 100.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    min: float
    median: float
    p95: float
    p99: float
    max: float


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("summary of no samples")
    return Summary(
        n=len(samples),
        min=min(samples),
        median=statistics.median(samples),
        p95=percentile(samples, 95),
        p99=percentile(samples, 99),
        max=max(samples),
    )


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A goal to compare against, e.g. Target("median", "<=", 0.5, "s")."""

    stat: str  # "min" | "median" | "p95" | "p99" | "max"
    op: str  # "<=" | ">="
    value: float
    unit: str = ""

    def met(self, summary: Summary) -> bool:
        actual = getattr(summary, self.stat)
        return actual <= self.value if self.op == "<=" else actual >= self.value

    def __str__(self) -> str:
        return f"{self.stat} {self.op} {self.value:g}{(' ' + self.unit) if self.unit else ''}"


@dataclass
class Row:
    """One measured quantity: its samples, unit, optional targets and a short note."""

    figure: str
    label: str
    unit: str
    samples: list[float] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    note: str = ""
    skipped: str = ""  # why there are no samples ("n/a: ...")

    @property
    def summary(self) -> Summary | None:
        return summarize(self.samples) if self.samples else None

    def verdicts(self) -> list[tuple[Target, bool]]:
        summary = self.summary
        if summary is None:
            return []
        return [(t, t.met(summary)) for t in self.targets]

    def as_json(self) -> dict:
        summary = self.summary
        return {
            "figure": self.figure,
            "label": self.label,
            "unit": self.unit,
            "samples": self.samples,
            "summary": None if summary is None else summary.__dict__,
            "targets": [{"target": str(t), "met": met} for t, met in self.verdicts()],
            "note": self.note,
            "skipped": self.skipped,
        }


@dataclass
class FigureResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    extra_markdown: str = ""  # a figure-specific table, printed after the main one
    details: dict = field(default_factory=dict)  # anything else worth keeping in the JSON
    seconds: float = 0.0
    error: str = ""
    number: int = 0  # the figure's number in docs/benchmarks.md


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f}"
    if unit in ("MB", "x"):
        return f"{value:.1f}"
    if unit == "ms":
        return f"{value:.2f}"
    if unit == "req/s":
        return f"{value:.0f}"
    return f"{value:g}"


def markdown_table(figures: Sequence[FigureResult]) -> str:
    lines = [
        "| # | Measurement | Unit | n | min | median | p95 | p99 | max | Target | Met |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for figure in figures:
        tag = f"{figure.number} {figure.name}" if figure.number else figure.name
        if figure.error and not figure.rows:
            lines.append(f"| {tag} | {figure.title}: error | | | | | | | | | {figure.error} |")
        for row in figure.rows:
            label = row.label + (f" ({row.note})" if row.note else "")
            summary = row.summary
            if summary is None:
                lines.append(f"| {tag} | {label} | {row.unit} | 0 | | | | | | | {row.skipped} |")
                continue
            stats = ("min", "median", "p95", "p99", "max")
            cells = [fmt(getattr(summary, k), row.unit) for k in stats]
            verdicts = row.verdicts()
            target = "; ".join(str(t) for t, _ in verdicts)
            met = "; ".join("yes" if ok else "**no**" for _, ok in verdicts)
            lines.append(
                f"| {tag} | {label} | {row.unit} | {summary.n} | {' | '.join(cells)} "
                f"| {target} | {met} |"
            )
    return "\n".join(lines)


# -- timing ----------------------------------------------------------------------------------


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then t[0] holds the elapsed seconds."""
    elapsed: list[float] = []
    start = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - start)


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


# -- build logs ------------------------------------------------------------------------------


def executed_steps(build_log: str) -> list[str]:
    """The build steps that really ran (not answered from the cache), shortened, with the
    seconds BuildKit reports for each: "[prod 5/5] COPY --link app /app/app (0.05 s)"."""
    return [
        f"{' '.join(title.split())[:80]} ({step.seconds:g} s)"
        for title, step in build_steps(build_log).items()
        if step.state == "DONE"
        and step.seconds is not None
        and not title.startswith("[internal]")
        and " FROM " not in title
    ]


# -- the run context -------------------------------------------------------------------------


@dataclass
class Options:
    quick: bool = False
    repeat: int | None = None  # overrides every figure's default count
    against: str | None = None  # a git commit to measure beside this tree (figures that can)

    def count(self, default: int, quick: int = 1) -> int:
        if self.repeat is not None:
            return max(1, self.repeat)
        return quick if self.quick else default


class Context:
    """Temp dirs, images and cleanup shared by the figures of one run.

    Every image gets a unique repository name (`berth-bench-<hex>`), so nothing another user or
    test run tagged is touched; every image id a build produced is removed at the end (only if
    nothing else refers to it: `docker image rm` without -f).
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        self.stack = contextlib.ExitStack()
        self.tmp = Path(tempfile.mkdtemp(prefix="berth-benchrun-"))
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        self.repo = unique("berth-bench")
        self._project: Path | None = None
        self._trees: dict[str, Path] = {}
        self._images: dict[str, str] = {}
        self._image_ids: set[str] = set()
        self._tags: set[str] = set()
        self.stack.callback(self._remove_images)
        self.uid, self.gid = os.getuid(), os.getgid()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stack.close()

    def copy(self, name: str, tree: str | None = None) -> Path:
        """A fresh throwaway copy of the working tree, or of commit ``tree`` (figures edit
        these)."""
        if tree is None:
            return copy_project(self.tmp / unique(name))
        return shutil.copytree(
            self._tree(tree), self.tmp / unique(name), ignore=COPY_IGNORE, symlinks=True
        )

    def trees(self) -> list[tuple[str, str | None]]:
        """What to measure: this tree, and ``--against`` beside it (label, tree)."""
        here = [(f"this tree ({self.commit})", None)]
        if self.options.against is None:
            return here
        return [*here, (self.options.against, self.options.against)]

    @property
    def commit(self) -> str:
        head = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "-C", ROOT, "status", "--porcelain"]).stdout.strip()
        return head + ("+changes" if dirty else "")

    def _tree(self, ref: str) -> Path:
        if ref not in self._trees:
            self._trees[ref] = export_tree(ref, self.tmp / unique("tree"))
        return self._trees[ref]

    @property
    def project(self) -> Path:
        """The shared unedited copy the shared images are built from."""
        if self._project is None:
            self._project = self.copy("project")
        return self._project

    # images --------------------------------------------------------------------------------

    def tag(self, name: str) -> str:
        tag = f"{self.repo}:{name}"
        self._tags.add(tag)
        return tag

    def build(self, project: Path, target: str, tag: str, *extra: str) -> tuple[float, str]:
        """Build `target` of `project` as `tag`; return (seconds, plain build log). Targets are
        the Dockerfile's stages, or a baseline of BASELINES."""
        args = [*extra]
        stage = target
        if target in BASELINES:
            dockerfile, stage = BASELINES[target]
            args += ["-f", str(project / "tools" / "bench" / dockerfile)]
        self._tags.add(tag)
        with stopwatch() as elapsed:
            output = build(project, stage, tag, *args, timeout=1200)
        self._image_ids.add(image_id(tag))
        return elapsed[0], output

    def image(self, target: str, tree: str | None = None) -> str:
        """The shared image for `target` (prod, dev or a baseline), built once per run; of
        commit ``tree`` when given."""
        key = target if tree is None else f"{target}-{tree}"
        if key not in self._images:
            tag = self.tag(key)
            log(f"building the {target} image ({tag})")
            project = self.project if tree is None else self._tree(tree)
            seconds, _ = self.build(project, target, tag)
            log(f"  built in {seconds:.1f} s")
            self._images[key] = tag
        return self._images[key]

    def _remove_images(self) -> None:
        for tag in sorted(self._tags):
            docker("image", "rm", tag, check=False, timeout=60)
        for image in sorted(self._image_ids):
            # `docker image rm <id>` also deletes a tag someone else gave the same image (an
            # identical build of the same tree has the same id): leave tagged images alone.
            tags = docker(
                "image", "inspect", "--format", "{{len .RepoTags}}", image, check=False
            ).stdout.strip()
            if tags == "0":
                docker("image", "rm", image, check=False, timeout=60)

    # compose -------------------------------------------------------------------------------

    def dev_stack(
        self,
        project: Path,
        env: dict[str, str] | None = None,
        watch: bool = False,
        image: str | None = None,
        tree: str | None = None,
    ):
        """The dev compose stack of `project` (with `watch`, in Compose Watch mode) with this
        run's dev image (or `image`, or that of commit `tree`), on free host ports, not started
        yet (the figures time `up`); removed afterwards."""
        return dev_stack(
            project,
            unique("berth-bench"),
            up=False,
            image=image or self.image("dev", tree),
            files=(COMPOSE_FILE, WATCH_FILE) if watch else (COMPOSE_FILE,),
            **(env or {}),
        )


# -- misc ------------------------------------------------------------------------------------


def image_id(tag: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


def image_size(tag: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def bounded(
    attempt: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "it"
) -> float:
    """Call `attempt` until it returns True; bounded by `timeout`. Returns the seconds taken."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if attempt():
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)
