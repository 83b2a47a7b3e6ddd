"""The dev image on its own (no compose, no bind mount): CI can build it and run the tools."""

from __future__ import annotations

import json
import re

from tools.harness.docker import container, docker, wait_for_health

TOOLS = ("debugpy", "watchdog", "pytest", "ruff", "pip")


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
