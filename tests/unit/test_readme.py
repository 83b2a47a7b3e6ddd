"""The README agrees with the project: its layout map with the top level, its versions with the
lock files, its commands and names with the Makefile and the compose file."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
# Local state that is never part of the project (see .gitignore).
LOCAL = {".git", ".venv", "venv", "node_modules", "instance", ".pytest_cache", ".ruff_cache"}
LOCAL |= {".env", ".hypothesis", "sbom.cdx.json"}


def _layout() -> list[str]:
    section = README.split("## Layout", 1)[1]
    block = section.split("```", 2)[1]
    names = []
    for line in block.splitlines():
        if line and not line.startswith(" "):
            names.append(line.split()[0].split("/")[0] or line.split()[0])
    return names


def _dockerignored() -> set[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return {line.strip("/") for line in lines if line and not line.startswith(("#", "!"))}


def test_the_layout_map_names_every_top_level_entry_and_nothing_else():
    listed = set(_layout())
    present = {p.name for p in ROOT.iterdir()} - LOCAL
    present = {name for name in present if not name.endswith((".pyc", "__pycache__"))}
    assert present - listed == set(), "top-level entries missing from the README's layout map"
    # In the dev image, what .dockerignore keeps out of the build context is not there.
    assert listed - present - _dockerignored() == set(), "the layout map names what is not here"


def test_the_node_version_is_what_the_dev_containers_cli_needs():
    lock = json.loads((ROOT / "tools" / "package-lock.json").read_text())
    engines = lock["packages"]["node_modules/@devcontainers/cli"]["engines"]["node"]
    needed = re.fullmatch(r">=(\d+)(?:\.\d+)*", engines)
    assert needed, engines
    assert f"Node.js {needed[1]}+" in README


def test_the_python_version_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = re.fullmatch(r">=(\d+\.\d+)", project["requires-python"])
    assert oldest, project["requires-python"]
    assert f"Python {oldest[1]}+" in README


def test_every_make_target_the_readme_names_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):.*##", MAKEFILE, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", README))
    assert named, "the README names no make target"
    assert named - targets == set()


def test_the_prod_run_command_is_the_one_make_runs():
    readme_volume = re.search(r"docker run [^`]*?-v (\S+):/data", README, flags=re.DOTALL)
    make_volume = re.search(r"-v (\S+):/data", MAKEFILE)
    assert readme_volume, "the README shows no `docker run ... -v <volume>:/data`"
    assert make_volume, "make prod-run mounts no volume on /data"
    assert readme_volume[1] == make_volume[1]


def test_the_scripts_and_files_the_readme_names_exist():
    named = set(re.findall(r"`((?:scripts|docs|docker|tools|dev|app)/[\w./-]+)`", README))
    assert named, "the README names no file"
    for path in named:
        if not LOCAL & set(Path(path).parts):  # made by scripts/test, not committed
            assert (ROOT / path).exists(), path
    for compose_file in set(re.findall(r"docker compose -f (\S+)", README)):
        assert (ROOT / compose_file).is_file(), compose_file
