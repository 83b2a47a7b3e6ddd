"""A pin change applies itself in the running dev stack (bind-mount mode): the dev server notices
new pins in requirements*.txt, syncs the venv with uv (hash-checked) while the app serves, and
restarts the app process on them; pins that fail to sync leave the app serving as it was.

One stack, a copy of the project whose GET / tells what the serving app process imported
(tools/harness/pins.py); the tests run in order: a pin added, then broken, then put back.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from dev.supervisor import STANDBYS
from tools.harness import pins
from tools.harness.commands import describe, unique
from tools.harness.compose import ComposeStack, dev_stack
from tools.harness.docker import processes
from tools.harness.project import owned_checkout

# The goal for a pin change to be served (docs/benchmarks.md has the measured figures).
APPLY_SECONDS = 5


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory) -> Iterator[ComposeStack]:
    workspace = owned_checkout(tmp_path_factory.mktemp("pins") / "berth")
    pins.add_import_probe(workspace)
    with dev_stack(workspace, unique("berth-pins")) as up:
        yield up
    shutil.rmtree(workspace, ignore_errors=True)


def app_processes(stack: ComposeStack) -> set[str]:
    """The PIDs of the dev server's processes (the dev server and its app process)."""
    return {str(p.pid) for p in processes(stack.container()) if "dev.serve" in p.args}


def settled_app_processes(stack: ComposeStack, timeout: float = 30) -> set[str]:
    """app_processes() once every standby has started: they start one after the other, each
    once the one before is ready, so a pin change earlier leaves some still to come. The init,
    the supervisor, the serving app process and STANDBYS standbys."""
    expected = 3 + STANDBYS
    deadline = time.monotonic() + timeout
    found = app_processes(stack)
    while len(found) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        found = app_processes(stack)
    assert len(found) == expected, found
    return found


def installed(stack: ComposeStack) -> str:
    result = stack.exec("sh", "-c", "uv pip freeze; pip --version")
    assert result.returncode == 0, describe(result)
    return result.stdout


def wait_for_log(stack: ComposeStack, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = stack.logs()
        if text in log:
            return log
        time.sleep(0.25)
    raise AssertionError(f"{text!r} not in the log within {timeout} s:\n{stack.logs()[-3000:]}")


def test_a_pin_added_is_served_within_seconds(stack):
    assert pins.served_version(stack.url) == "missing"
    pins.set_pin(stack.workspace, pins.PIN)
    start = time.monotonic()
    while pins.served_version(stack.url) != pins.VERSION:
        assert time.monotonic() - start < 60, stack.logs()[-3000:]
        time.sleep(0.05)
    seconds = time.monotonic() - start
    print(f"pin added: served {seconds:.2f} s after the write")
    log = stack.logs()
    assert "pins changed (requirements*.txt)" in log, log[-3000:]
    assert "pins synced in" in log, log[-3000:]
    assert f"+{pins.PACKAGE}=={pins.VERSION}" in log, log[-3000:]
    assert seconds < APPLY_SECONDS, f"{seconds:.1f} s\n{log[-3000:]}"
    # The venv is the pins: six added, pip (pinned for trying packages by hand) still there.
    after = installed(stack)
    assert f"{pins.PACKAGE}=={pins.VERSION}" in after, after
    assert "pip 26" in after, after


def test_a_broken_pin_leaves_the_app_serving_the_old_environment(stack):
    before, processes = installed(stack), settled_app_processes(stack)
    pins.set_pin(stack.workspace, pins.BROKEN_PIN)
    log = wait_for_log(stack, "pins not synced:")
    line = next(li for li in log.splitlines() if "pins not synced:" in li)
    assert "Hash mismatch" in line, line
    assert "six==1.16.0" in line, line
    assert line.rstrip().endswith("still serving the old environment"), line
    assert "Traceback" not in log, log[-3000:]
    # Nothing changed: the same processes serve the same venv.
    assert pins.served_version(stack.url) == pins.VERSION
    assert installed(stack) == before
    assert app_processes(stack) == processes


def test_putting_the_pin_back_needs_no_sync(stack):
    processes = settled_app_processes(stack)
    pins.set_pin(stack.workspace, pins.PIN)
    wait_for_log(stack, "pins back to the installed ones")
    assert pins.served_version(stack.url) == pins.VERSION
    assert app_processes(stack) == processes
