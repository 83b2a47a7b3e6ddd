"""linux/arm64 (Apple Silicon, Graviton), the dev stack: compose builds it for arm64, a save
is served and debugpy accepts an editor. Under emulation everything is 10 to 50 times slower:
the tests poll over HTTP with generous bounds and check no timing. The prod image's half, and
how the base image is chosen, are in test_arm64_prod.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tools.harness.commands import describe, unique
from tools.harness.compose import ComposeStack, dev_stack
from tools.harness.dap import DebugSession
from tools.harness.docker import inspect
from tools.harness.editors import ServiceTarget
from tools.harness.net import wait_for_http
from tools.harness.platforms import (
    ARM64,
    BUILD_TIMEOUT,
    EMULATED,
    assert_turns_healthy,
    base_hint,
)
from tools.harness.project import edit_landing_page, owned_checkout

pytestmark = pytest.mark.arm64


@pytest.fixture(scope="module")
def arm64_stack(arm64_base, tmp_path_factory) -> Iterator[ComposeStack]:
    workspace = owned_checkout(tmp_path_factory.mktemp("arm64") / "berth")
    # As a Mac user's engine builds and runs its own platform: compose reads the platform from
    # DOCKER_DEFAULT_PLATFORM here, and the base image from PYTHON_IMAGE as the docs say.
    settings = {"DOCKER_DEFAULT_PLATFORM": ARM64, "PYTHON_IMAGE": arm64_base}
    with dev_stack(workspace, unique("berth-arm64"), up=False, **settings) as stack:
        built = stack.compose("build", timeout=BUILD_TIMEOUT)
        assert built.returncode == 0, f"{base_hint(ARM64)}\n{describe(built)}"
        stack.up(wait=False)  # polled over HTTP below: no timing under emulation
        wait_for_http(f"{stack.url}/healthz", timeout=EMULATED, interval=1)
        yield stack
    shutil.rmtree(workspace, ignore_errors=True)


def test_dev_stack_runs_arm64_and_turns_healthy(arm64_stack):
    name = arm64_stack.container()
    assert inspect(inspect(name, "{{.Image}}"), "{{.Architecture}}") == "arm64"
    machine = arm64_stack.exec("uname", "-m")
    assert machine.stdout.strip() == "aarch64", describe(machine)
    assert_turns_healthy(name)


def test_dev_stack_serves_a_save(arm64_stack):
    marker = edit_landing_page(arm64_stack.workspace)
    answer, _ = wait_for_http(
        arm64_stack.url + "/", body_contains=marker.encode(), timeout=EMULATED, interval=1
    )
    assert answer.body.startswith(marker.encode())


def test_debugpy_accepts_an_editor_and_stops_at_a_breakpoint(arm64_stack):
    target: ServiceTarget = arm64_stack.target()
    with DebugSession(
        "127.0.0.1",
        target.debugpy_port,
        breakpoints={str(target.breakpoint_file): [target.breakpoint_line]},
        path_mappings=target.path_mappings,
        timeout=EMULATED,
    ) as session:
        session.wait_child(timeout=EMULATED)
        hit = session.break_during(target.request, timeout=EMULATED)
        assert not session.errors, session.errors
    assert hit.frame["line"] == target.breakpoint_line, hit.frame
    assert hit.variables["note_id"] == str(target.note_id), hit.variables
    assert hit.result.status == 200, hit.result
