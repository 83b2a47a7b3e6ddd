"""The README agrees with the project: its versions with the lock files and scripts/test, its
commands and names with the Makefile and the compose file. The docs' own checks, the layout map
among them: test_docs.py."""

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


def test_the_node_version_is_what_the_dev_containers_cli_needs():
    lock = json.loads((ROOT / "tools" / "package-lock.json").read_text())
    engines = lock["packages"]["node_modules/@devcontainers/cli"]["engines"]["node"]
    needed = re.fullmatch(r">=(\d+)(?:\.\d+)*", engines)
    assert needed, engines
    assert f"Node.js {needed[1]}+" in README
    script = (ROOT / "scripts" / "test").read_text()
    assert f"install Node.js {needed[1]} or newer" in script


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


def test_the_scripts_and_files_the_readme_names_exist():
    named = set(re.findall(r"`((?:scripts|docs|docker|tools|dev|app)/[\w./-]+)`", README))
    assert named, "the README names no file"
    for path in named:
        if not LOCAL & set(Path(path).parts):  # made by scripts/test, not committed
            assert (ROOT / path).exists(), path
    for compose_file in set(re.findall(r"docker compose -f (\S+)", README)):
        assert (ROOT / compose_file).is_file(), compose_file
