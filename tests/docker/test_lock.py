"""scripts/lock --check: the lock files are what their .in files give with the current pins, and
a stale one is one line (a .txt edited by hand, an .in that gained a package and was not
re-locked). Host-side: it needs uv from tools/requirements.txt, and PyPI for the metadata."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tools.harness import pins
from tools.harness.commands import describe, host_tool, run
from tools.harness.project import ROOT, copy_project


def check(project: Path):
    uv = Path(host_tool("uv"))
    path = os.pathsep.join([str(uv.parent), os.environ.get("PATH", "")])
    return run([project / "scripts" / "lock", "--check"], cwd=project, env={"PATH": path},
               check=False, timeout=300)  # fmt: skip


def test_the_lock_files_are_what_their_in_files_give():
    result = check(ROOT)
    assert result.returncode == 0, describe(result)
    assert result.stderr == ""


def test_a_hand_edited_lock_file_is_one_line(tmp_path):
    project = copy_project(tmp_path / "project")
    locked = project / "requirements.txt"
    # The version changed by hand, the hashes left as they were: what a forgotten re-lock is.
    text, edits = re.subn(r"^flask==3\.1\.(\d+)", r"flask==3.1.0", locked.read_text(), flags=re.M)
    assert edits == 1, "requirements.txt pins no flask 3.1.x any more: pick another edit"
    locked.write_text(text)
    result = check(project)
    assert result.returncode == 1, describe(result)
    assert result.stderr.splitlines() == [
        "scripts/lock: requirements.txt is not what requirements.in gives with the current "
        "pins: run scripts/lock"
    ]
    assert locked.read_text() == text, "--check changed the file"


def test_an_in_file_that_gained_a_package_is_one_line(tmp_path):
    project = copy_project(tmp_path / "project")
    with (project / "requirements-dev.in").open("a") as wanted:
        wanted.write(f"{pins.PACKAGE}=={pins.VERSION}\n")
    result = check(project)
    assert result.returncode == 1, describe(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("scripts/lock: requirements-dev.txt is not what requirements-dev.in")
