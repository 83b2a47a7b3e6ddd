"""scripts/rename on a copy of the project: afterwards the old name is nowhere, and the project is
still green: ruff, the unit tests, the compose file and every Kubernetes overlay."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from tools.harness.commands import describe, host_tool, run
from tools.harness.kube import kubectl
from tools.harness.project import copy_project

NEW = "harbor-notes"  # hyphenated and longer: identifiers and line lengths are put to the test


def test_rename_leaves_no_old_name_and_a_green_project(docker_engine, tmp_path):
    project = copy_project(tmp_path / "service")
    ruff = host_tool("ruff")
    path = {"PATH": f"{Path(ruff).parent}{os.pathsep}{os.environ['PATH']}"}  # it formats, then
    result = run([sys.executable, project / "scripts" / "rename", NEW], env=path, check=False)
    assert result.returncode == 0, describe(result)
    assert result.stdout == f"renamed berth to {NEW} in {result.stdout.split()[-2]} files\n"

    left = run(["grep", "-rIil", "berth", project], check=False)
    assert left.returncode == 1, f"the old name is still in:\n{left.stdout}"
    assert "harbor_notes_db" in (project / "app" / "db.py").read_text()
    assert "HARBOR_NOTES_MODULES" in (project / "dev" / "preload.py").read_text()

    for check in (["check", "."], ["format", "--check", "."]):
        result = run([ruff, *check], cwd=project, check=False)
        assert result.returncode == 0, describe(result)
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/unit"],
        cwd=project,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, describe(result)

    config = run(["docker", "compose", "-f", "docker-compose.dev.yml", "config"], cwd=project)
    assert "berth" not in config.stdout.lower()
    for overlay in ("overlays/single", "overlays/scaled", "dev"):
        rendered = run([kubectl(), "kustomize", project / "deploy" / "k8s" / overlay]).stdout
        assert "berth" not in rendered.lower(), overlay
        assert re.search(rf"\bname: {NEW}\b", rendered), overlay

    again = run([sys.executable, project / "scripts" / "rename", "notes"], env=path, check=False)
    assert again.returncode == 0, describe(again)  # and the script itself renames again
    assert "harbor" not in (project / "app" / "health.py").read_text()
