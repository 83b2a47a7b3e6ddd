"""How the images are built: lint, layer caching, and no CA material left behind."""

from __future__ import annotations

import gzip
import re
import tarfile
from pathlib import Path

from tools.harness.commands import host_tool, run, unique
from tools.harness.docker import BuildStep, build, build_steps, docker
from tools.harness.project import ROOT, copy_project

# The install of the pins with uv: the runtime venv (prod's), and the dev venv.
INSTALL_STEP = r"^\[deps \d+/\d+\] RUN .*pin-install uv pip sync .*/tmp/requirements\.txt"
DEV_INSTALL_STEP = r"^\[dev-deps \d+/\d+\] RUN .*pin-install uv pip sync .*requirements-dev\.txt"


def state_of(steps: dict[str, BuildStep], pattern: str) -> str:
    """The state (CACHED or DONE) of the one build step whose title matches `pattern`."""
    matches = [step.state for title, step in steps.items() if re.search(pattern, title)]
    assert len(matches) == 1, f"{pattern!r} matched {len(matches)} steps: {list(steps)}"
    return matches[0]


def test_dockerfile_passes_hadolint():
    result = run([host_tool("hadolint"), "--no-color", ROOT / "Dockerfile"], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_change_rebuilds_without_reinstalling_dependencies(docker_engine, tmp_path):
    project = copy_project(tmp_path / "project")
    tag = unique("berth-test:cache")
    try:
        build(project, "prod", tag)  # warm: whatever the cache holds, this fills it
        with (project / "app" / "__init__.py").open("a") as source:
            # unique, or an earlier run's cache of the very same edit would answer
            source.write(f"\n# a code-only change: {unique('edit')}\n")
        states = build_steps(build(project, "prod", tag))
    finally:
        docker("image", "rm", "-f", tag, check=False)
    assert state_of(states, INSTALL_STEP) == "CACHED"
    assert state_of(states, r"^\[prod \d+/\d+\] COPY (--link )?app ") == "DONE"


def test_ca_bundle_secret_leaves_no_trace(docker_engine, marked_ca_bundle, tmp_path):
    bundle, marker = marked_ca_bundle
    tags = {target: unique(f"berth-test:ca-{target}") for target in ("prod", "dev")}
    try:
        for target, tag in tags.items():
            # --no-cache-filter: the install steps (pip for uv, uv for the pins) must really run
            # with the secret mounted.
            log = build(
                ROOT,
                target,
                tag,
                "--secret",
                f"id=extra_ca,src={bundle}",
                "--no-cache-filter",
                "uv,deps,dev-deps",
            )
            step = INSTALL_STEP if target == "prod" else DEV_INSTALL_STEP
            assert state_of(build_steps(log), step) == "DONE"
        for tag in tags.values():
            history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout
            config = docker("image", "inspect", tag).stdout
            for text in (history, config):
                assert marker not in text
                assert "extra_ca" not in text or "required=false" in text  # the mount, not data
                assert "PIP_CERT=" not in text
                assert "SSL_CERT_FILE=" not in text
            archive = tmp_path / "image.tar"
            docker("image", "save", "-o", archive, tag, timeout=300)
            assert_not_in_archive(archive, marker.encode())
            archive.unlink()
    finally:
        docker("image", "rm", "-f", *tags.values(), check=False)


def assert_not_in_archive(archive: Path, needle: bytes) -> None:
    """Search every blob of a saved image: config, manifests and layers (uncompressed tars, so
    file contents appear as they are; a gzip layer is opened first)."""
    layers = 0
    with tarfile.open(archive) as image:
        for member in image.getmembers():
            blob = image.extractfile(member) if member.isfile() else None
            if blob is None:
                continue
            data = blob.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            layers += data[257:262] == b"ustar"
            assert needle not in data, f"CA material found in {member.name}"
    assert layers > 0, "no layers found in the saved image"
