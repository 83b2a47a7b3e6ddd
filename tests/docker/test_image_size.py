"""What the prod image adds to its base is what docs/benchmarks.md quotes (figure 4 (size)), within
10 %: the size is quoted in that one place, and this keeps it true."""

from __future__ import annotations

import re

from tools.bench.sizes import added_bytes
from tools.harness.docker import python_image
from tools.harness.project import ROOT

MB = 1_000_000  # decimal, as docs/benchmarks.md and `docker images` count
TOLERANCE = 0.10


def quoted_mb() -> float:
    """The median of the prod row of figure 4 (size): `| 4 size | prod: added on top of the base
    ... | MB | n | min | median | ...`."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    row = re.search(
        r"^\| 4 size \| prod: added on top of the base[^|]*\| MB \| \d+ \| [\d.]+ \| ([\d.]+) \|",
        text,
        flags=re.MULTILINE,
    )
    assert row, "docs/benchmarks.md quotes no size for prod (the prod row of figure 4 (size))"
    return float(row[1])


def test_prod_adds_to_its_base_what_the_docs_say(prod_image):
    base = python_image() or "python:3.13-slim"
    by_inspect, by_history = added_bytes(prod_image, base)
    quoted = quoted_mb()
    measured = by_inspect / MB
    assert abs(measured - quoted) <= TOLERANCE * quoted, (
        f"prod adds {measured:.1f} MB to {base} (history: {by_history / MB:.1f} MB); "
        f"docs/benchmarks.md says {quoted} MB: measure it again (scripts/bench size)"
    )
