"""linux/arm64 (Apple Silicon, Graviton): both images build for it and work. On an amd64
machine they run under QEMU emulation; on an arm64 one, natively.

Marked `arm64`: `scripts/test -m arm64` runs them (CI does); plain `scripts/test` leaves them out,
since emulated they take minutes. The base image comes from PYTHON_IMAGE_ARM64, else
PYTHON_IMAGE, else the official python:3.13-slim, which is multi-platform: an engine with the
classic image store holds one platform per name, so there PYTHON_IMAGE_ARM64 names an arm64 one.

Under emulation everything is 10 to 50 times slower: the tests poll over HTTP with generous
bounds and check no timing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tools.harness.commands import describe, unique
from tools.harness.compose import ComposeStack, dev_stack
from tools.harness.dap import DebugSession
from tools.harness.docker import (
    HARDENED,
    base_url,
    container,
    docker,
    health_checks,
    inspect,
    try_build,
    volume,
    wait_for_health,
)
from tools.harness.editors import ServiceTarget
from tools.harness.net import http, wait_for_http
from tools.harness.platforms import ARM64, base_hint, base_image, problem
from tools.harness.project import ROOT, edit_landing_page, owned_checkout

pytestmark = pytest.mark.arm64

# Bounds for one step under emulation (a start, a reload, an attach), far above what it takes.
EMULATED = 300
BUILD_TIMEOUT = 2400


@pytest.fixture(scope="module")
def arm64_base(docker_engine) -> str:
    why = problem(ARM64)
    if why:
        pytest.fail(why, pytrace=False)
    return base_image(ARM64)


def _build(target: str, tag: str, base: str) -> None:
    result = try_build(
        ROOT,
        target,
        tag,
        "--platform",
        ARM64,
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, f"{base_hint(ARM64)}\n{describe(result)}"


@pytest.fixture(scope="module")
def arm64_prod(arm64_base) -> Iterator[str]:
    tag = unique("berth-test:arm64-prod")
    _build("prod", tag, arm64_base)
    yield tag
    docker("image", "rm", "-f", tag, check=False)


def test_prod_image_is_built_for_arm64_from_the_base_named(arm64_prod, arm64_base):
    assert inspect(arm64_prod, "{{.Os}}/{{.Architecture}}") == ARM64
    label = inspect(arm64_prod, '{{index .Config.Labels "org.opencontainers.image.base.name"}}')
    assert label == arm64_base


def test_prod_serves_hardened_keeps_notes_and_turns_healthy(arm64_prod):
    with (
        volume() as data,
        container(arm64_prod, *HARDENED, "--platform", ARM64, "-v", f"{data}:/data") as name,
    ):
        url = base_url(name)
        wait_for_http(f"{url}/healthz", timeout=EMULATED, interval=1)
        machine = docker("exec", name, "python", "-c", "import platform; print(platform.machine())")
        assert machine.stdout.strip() == "aarch64", describe(machine)
        created = http("POST", f"{url}/api/notes", {"title": "on arm64"}, timeout=60)
        assert created.status == 201, created.body
        read = http("GET", f"{url}/api/notes/{created.json()['id']}", timeout=60)
        assert read.status == 200
        assert read.json()["title"] == "on arm64"
        assert_turns_healthy(name)


def assert_turns_healthy(name: str) -> None:
    """The image's own HEALTHCHECK, with its own timeout, passes under emulation too (while the
    app starts, emulated, the status may be unhealthy for a while)."""
    status, took = wait_for_health(name, timeout=EMULATED, until=("healthy",))
    checks = health_checks(name)
    print(f"healthchecks (exit code, seconds): {checks}")
    assert status == "healthy", f"{status} after {took:.0f} s; last checks {checks}"


# -- the dev stack, built by compose for arm64 ------------------------------------------------


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
