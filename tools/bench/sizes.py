"""Figure 4: image sizes, as the bytes each image adds on top of the base image.

`docker image inspect .Size` of the image minus that of the base it starts FROM (the local
python:3.13-slim, or PYTHON_IMAGE), cross-checked against the sum of the layers `docker
history` lists above the base's own layers. Uncompressed sizes, in decimal MB (as `docker
images` shows them).
"""

from __future__ import annotations

import json

from tools.harness.docker import docker, python_image

from .common import MB, Context, FigureResult, Row, Target, image_size

# The base the images were built FROM: the default, or a mirror's name (PYTHON_IMAGE).
BASE = python_image() or "python:3.13-slim"


def _layers(image: str) -> list[tuple[str, int]]:
    out = docker("history", "--no-trunc", "--format", "{{json .}}", image).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    # `docker history` gives human sizes in .Size; the raw bytes come from `--human=false`.
    raw = docker("history", "--no-trunc", "--human=false", "--format", "{{.Size}}", image).stdout
    sizes = [int(s) for s in raw.split()]
    return [(r.get("CreatedBy", ""), size) for r, size in zip(rows, sizes, strict=True)]


def added_bytes(image: str, base: str = BASE) -> tuple[int, int]:
    """(size difference by inspect, sum of the history layers above the base's)."""
    by_inspect = image_size(image) - image_size(base)
    base_layers = len(_layers(base))
    layers = _layers(image)
    above = layers[: len(layers) - base_layers]  # history lists the newest layer first
    return by_inspect, sum(size for _, size in above)


def run_sizes(ctx: Context) -> FigureResult:
    figure = FigureResult("size", "Image size")
    figure.details["base_bytes"] = image_size(BASE)
    for target in ("prod", "dev", "naive"):
        image = ctx.image(target)
        total = image_size(image)
        inspect_added, history_added = added_bytes(image)
        row = Row(figure.name, f"{target}: added on top of the base", "MB", [inspect_added / MB])
        if target == "prod":
            row.targets = [Target("max", "<=", 25, "MB")]
        row.note = f"total {total / MB:.1f} MB"
        if abs(inspect_added - history_added) > 0.01 * MB:
            row.note += f"; history says {history_added / MB:.1f} MB"
        figure.rows.append(row)
        figure.details[target] = {
            "total_bytes": total,
            "added_bytes_inspect": inspect_added,
            "added_bytes_history": history_added,
        }
    return figure
