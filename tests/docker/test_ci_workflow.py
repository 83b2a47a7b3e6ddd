"""The GitHub Actions workflow a team gets with the template is valid and runs the README's
test command (it cannot run here; .ci/run is this repository's CI)."""

from __future__ import annotations

import re

from tools.harness.commands import host_tool, run
from tools.harness.project import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_workflow_matches_the_github_schema():
    result = run(
        [host_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", WORKFLOW],
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_and_ci_run_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"```sh\n(scripts/test)\b", readme)
    assert command, "the README's Tests section no longer starts with scripts/test"
    assert re.search(rf"^\s*- run: {command[1]}\s*$", WORKFLOW.read_text(), re.MULTILINE)
    assert re.search(rf"^{command[1]} \|\| status=\$\?$", (ROOT / ".ci" / "run").read_text(), re.M)
