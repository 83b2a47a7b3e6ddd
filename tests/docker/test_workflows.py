"""Every GitHub workflow of the template passes actionlint and zizmor, matches GitHub's schema,
pins every action by commit (with its version in a comment, which Renovate keeps up to date),
and grants each job only the permissions it names. The release workflow does what
docs/releasing.md says it does. (The workflows cannot run here; the release build is run
locally by test_release_build.py.)"""

from __future__ import annotations

import re

import pytest

from tools.harness.commands import describe, host_tool, run
from tools.harness.project import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
RELEASE = ROOT / ".github" / "workflows" / "release.yml"
# owner/repo[/path]@<full commit> # v1.2.3
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(path):
    import yaml

    return yaml.safe_load(path.read_text())


def test_every_workflow_passes_actionlint():
    # shellcheck from tools/requirements.txt, for every `run:` script.
    shellcheck = host_tool("shellcheck")
    result = run([host_tool("actionlint"), "-shellcheck", shellcheck, *WORKFLOWS], check=False)
    assert result.returncode == 0, describe(result)


def test_every_workflow_passes_zizmor():
    # Offline: the online audits ask GitHub's API, which needs a token and the network.
    result = run(
        [host_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", *WORKFLOWS],
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, describe(result)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(workflow):
    schema = ["--builtin-schema", "vendor.github-workflows"]
    result = run([host_tool("check-jsonschema"), *schema, workflow], check=False)
    assert result.returncode == 0, describe(result)


def uses_lines() -> list[tuple[str, str]]:
    found = []
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if m := re.match(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", line):
                found.append((workflow.name, m[1]))
    return found


def test_every_action_is_pinned_by_commit_with_its_version():
    uses = uses_lines()
    assert len(uses) >= 10, uses
    loose = [(w, ref) for w, ref in uses if not ref.startswith("./") and not PINNED.match(ref)]
    assert not loose, f"actions not pinned as owner/repo@<commit> # vX.Y.Z: {loose}"


def test_one_action_is_pinned_to_one_commit_everywhere():
    commits: dict[str, set[str]] = {}
    for _, ref in uses_lines():
        if m := re.match(r"([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (\S+)", ref):
            commits.setdefault(m[1], set()).add(f"{m[2]} {m[3]}")
    mixed = {action: pins for action, pins in commits.items() if len(pins) > 1}
    assert not mixed, mixed


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_granted_per_job(workflow):
    spec = load(workflow)
    assert spec.get("permissions") == {}, "the workflow grants permissions to every job"
    for name, job in spec["jobs"].items():
        assert "permissions" in job, f"job {name} does not say which permissions it needs"
        granted = job["permissions"] or {}
        assert "write-all" not in str(granted), name


def test_the_release_builds_both_platforms_with_attestations_and_signs():
    spec = load(RELEASE)
    # PyYAML reads the key `on` as True.
    assert spec[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+*"]}}
    jobs = spec["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["image"]["needs"] == "test"
    assert jobs["sign"]["needs"] == "image"
    steps = {s["uses"].split("@")[0]: s for s in jobs["image"]["steps"] if "uses" in s}
    build = steps["docker/build-push-action"]["with"]
    assert build["target"] == "prod"
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["push"] is True
    assert build["provenance"] == "mode=max"
    assert build["sbom"] is True
    assert "docker/setup-qemu-action" in steps
    assert "docker/setup-buildx-action" in steps
    tags = steps["docker/metadata-action"]["with"]["tags"]
    assert "type=semver,pattern={{version}}" in tags
    assert "type=sha" in tags
    # Only the signing job gets an OIDC token, and only the jobs that push may write packages.
    assert jobs["image"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["sign"]["permissions"]["id-token"] == "write"
    script = "\n".join(s.get("run", "") for s in jobs["sign"]["steps"])
    assert 'cosign sign --yes "$IMAGE"' in script
    assert "scripts/sbom" in script
    assert "cosign attest" in script
