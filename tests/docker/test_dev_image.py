"""The dev image on its own (no compose, no bind mount): CI can build it and run the tools."""

from __future__ import annotations

import json
import os
import re
import time

from tools.harness.commands import unique
from tools.harness.docker import container, docker, wait_for_health
from tools.harness.project import ROOT

TOOLS = ("debugpy", "watchdog", "pytest", "ruff", "pip")
# The Dockerfile the Dev Containers CLI builds on top of the image for `updateRemoteUserUID`.
CLI_UPDATE_UID = ROOT / "tools/node_modules/@devcontainers/cli/scripts/updateUID.Dockerfile"
# What the checkout owner does to the venv: pip install by hand, the dev server's pin sync.
VENV_WRITE = (
    'sp=$(python -c "import sysconfig; print(sysconfig.get_path(\\"purelib\\"))"); '
    'touch "$sp/flask/py.typed" "$sp/berth-probe" && rm "$sp/berth-probe" && '
    'echo "$(id -u) $(id -g)"'
)


def test_runs_its_own_unit_tests_as_the_app_user(dev_image):
    result = docker("run", "--rm", dev_image, "sh", "-c", "id -un; id -u; pytest -q", timeout=300)
    name, uid, *report = result.stdout.splitlines()
    # The image's own copy of the source belongs to `app` (1000), so the entrypoint keeps it.
    assert (name, uid) == ("app", "1000")
    summary = report[-1]
    assert re.search(r"\b[1-9]\d* passed\b", summary), summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary


def test_has_the_dev_tools_in_the_venv(dev_image):
    found = docker(
        "run",
        "--rm",
        dev_image,
        "python",
        "-c",
        "import importlib.util, json, shutil, sys; "
        f"tools = {list(TOOLS)!r}; "
        "print(json.dumps({'prefix': sys.prefix, "
        "'missing': [t for t in tools if not importlib.util.find_spec(t)], "
        "'ruff': shutil.which('ruff')}))",
    )
    assert json.loads(found.stdout) == {
        "prefix": "/opt/venv",
        "missing": [],
        "ruff": "/opt/venv/bin/ruff",
    }


def test_serves_with_the_dev_server_alone(dev_image):
    # Without compose: the image's own CMD (dev server, debugpy listening) reports healthy.
    with container(dev_image, "-p", "127.0.0.1::8000") as name:
        status, took = wait_for_health(name, timeout=60)
        assert status == "healthy", f"{status} after {took:.1f} s"


def test_the_venv_stays_writable_when_the_cli_remaps_the_user(dev_image, tmp_path):
    """VS Code and the Dev Containers CLI, for a host user whose uid is not 1000, derive an image
    with the CLI's own updateUID.Dockerfile (which renumbers `app` and its group), then run the
    editor's commands as `app`: the venv must stay writable for it, without a chown."""
    assert CLI_UPDATE_UID.is_file(), "the Dev Containers CLI is missing: npm ci --prefix tools"
    ids = (1234, 1234) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    tag = unique("berth-test-uid")
    docker(
        "build", "-f", CLI_UPDATE_UID, "-t", tag,
        "--build-arg", f"BASE_IMAGE={dev_image}", "--build-arg", "REMOTE_USER=app",
        "--build-arg", f"NEW_UID={ids[0]}", "--build-arg", f"NEW_GID={ids[1]}",
        "--build-arg", "IMAGE_USER=root", tmp_path,
        timeout=300,
    )  # fmt: skip
    try:
        checkout = tmp_path / "checkout"
        checkout.mkdir()
        os.chown(checkout, *ids)
        with container(tag, "-v", f"{checkout}:/app", command=("sleep", "300")) as name:
            # The entrypoint is done once PID 1 is the sleep, as the checkout's owner.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                uid = docker("exec", name, "stat", "-c", "%u", "/proc/1", check=False)
                if uid.stdout.strip() == str(ids[0]):
                    break
                time.sleep(0.1)
            result = docker("exec", "-u", "app", name, "sh", "-c", VENV_WRITE, check=False)
    finally:
        docker("rmi", "-f", tag, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(ids[0]), str(ids[1])], result.stdout
