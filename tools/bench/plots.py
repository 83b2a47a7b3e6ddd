"""Pictures of a run's results (SVG, with matplotlib): the reload figure as the seconds of each
save per variant, and the day figure as the share of saves served within a time. Each names the
commit and the date it was measured on, and draws the targets.

    scripts/bench reload day --plots docs/figures      writes docs/figures/reload.svg, day.svg
"""

from __future__ import annotations

import re
from pathlib import Path


def _tree_and_what(label: str) -> tuple[str, str]:
    """Which tree a row measured, and what: 'day [446f3d4]: save to served' and
    'reload: DEBUGPY=0 [446f3d4]' name the tree; a row without one measured this tree."""
    figure, _, rest = label.partition(": ")
    for text in (figure, rest):
        found = re.search(r" \[([^\]]+)\]$", text)
        if found:
            return found[1], rest.removesuffix(found[0])
    return "this tree", rest


def _stamp(document: dict) -> str:
    commit = document["machine"].get("git_commit", "?")[:7]
    day = document["started"][:8]
    return (
        f"commit {commit}, {day[:4]}-{day[4:6]}-{day[6:]}, {document['machine'].get('cpus')} cores"
    )


def write(document: dict, folder: Path) -> list[Path]:
    """The plots of the figures in ``document`` (a results JSON) that have one."""
    import matplotlib

    matplotlib.use("svg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: smaller, and searchable
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for figure in document["figures"]:
        if figure.get("error") or not figure["rows"]:
            continue
        draw = {"reload": _reload, "day": _day}.get(figure["name"])
        if draw is not None:
            path = folder / f"{figure['name']}.svg"
            draw(figure, _stamp(document), path)
            written.append(path)
    return written


def _reload(figure: dict, stamp: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    rows = [r for r in figure["rows"] if r["samples"]]
    variants = list(dict.fromkeys(_tree_and_what(r["label"])[1] for r in rows))
    trees = list(dict.fromkeys(_tree_and_what(r["label"])[0] for r in rows))
    fig, ax = plt.subplots(figsize=(9, 0.7 + 0.55 * len(variants) * len(trees)))
    positions, labels = [], []
    for i, variant in enumerate(variants):
        for j, tree in enumerate(trees):
            row = next((r for r in rows if _tree_and_what(r["label"]) == (tree, variant)), None)
            if row is None:
                continue
            y = -(i * (len(trees) + 1) + j)
            ax.boxplot(row["samples"], positions=[y], orientation="horizontal", widths=0.6)
            positions.append(y)
            labels.append(f"{variant}  [{tree}]" if len(trees) > 1 else variant)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(0.15, color="tab:green", linestyle="--", linewidth=1, label="target 0.15 s")
    ax.set_xlabel("seconds from the save until GET / serves it (log scale)")
    ax.set_title(f"Figure 1 (reload): each save ({stamp})", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _day(figure: dict, stamp: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, day in figure["details"]["days"].items():
        outcomes = [o for o in day["outcomes"] if o["kind"] == "save"]
        saves = sorted(o["seconds"] for o in outcomes if o["ok"])
        if not saves:
            continue
        # Of all the day's saves: one never served keeps the curve below 1.
        shares = [(i + 1) / len(outcomes) for i in range(len(saves))]
        lost = len(outcomes) - len(saves)
        ax.step(saves, shares, where="post", label=f"{label}: {len(outcomes)} saves, {lost} lost")
    for seconds, what in ((0.15, "p50 target"), (0.5, "p99 target")):
        ax.axvline(seconds, color="grey", linestyle="--", linewidth=1)
        ax.text(seconds, 0.02, f" {what}", fontsize=7, color="grey")
    ax.axhline(0.5, color="grey", linewidth=0.5)
    ax.axhline(0.99, color="grey", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("seconds from the save until GET / serves it (log scale)")
    ax.set_ylabel("share of the day's saves served within")
    ax.set_title(f"Figure 14 (day): saves served ({stamp})", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
