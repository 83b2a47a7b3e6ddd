"""The Makefile's targets are all documented: in `make help`, and in the README or
docs/development.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()
DOCS = (ROOT / "README.md").read_text() + (ROOT / "docs" / "development.md").read_text()


def phony_targets() -> list[str]:
    lines = re.findall(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE)
    assert lines, "Makefile has no .PHONY line"
    return [target for line in lines for target in line.split()]


def help_texts() -> dict[str, str]:
    """What `make help` prints: the `## ` comment on each target's line."""
    return dict(re.findall(r"^([a-z-]+):.*?## (.+)$", MAKEFILE, re.MULTILINE))


def test_every_target_has_a_help_line():
    documented = help_texts()
    missing = [t for t in phony_targets() if t not in documented]
    assert not missing, f"targets without a `## ` help text: {missing}"
    assert set(documented) <= set(phony_targets()), "a documented target is not .PHONY"


def test_every_target_is_in_the_docs():
    # docs/development.md's table names targets as `up` / `down`, or in text as `make up`.
    named = set(re.findall(r"`(?:make )?([a-z-]+)`", DOCS))
    missing = [t for t in phony_targets() if t not in named]
    assert not missing, (
        f"Makefile targets neither the README nor docs/development.md mention: {missing}"
    )


def test_container_commands_rebuild_first():
    # `compose run` reuses a stale image otherwise (e.g. one built for other UID/GID).
    runs = re.findall(r"\$\(COMPOSE\) run (.*)", MAKEFILE)
    assert runs, "no compose run commands found"
    assert all("--build" in line for line in runs), runs
