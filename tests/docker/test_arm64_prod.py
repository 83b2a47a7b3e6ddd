"""linux/arm64 (Apple Silicon, Graviton), the prod image: it builds for arm64 from the base
named, and runs hardened. The dev stack's half is test_arm64_dev.py (a module each, so that the
two emulated halves run on both workers).

Marked `arm64`: `scripts/test -m arm64` runs them (CI does); plain `scripts/test` leaves them out,
since emulated they take minutes. The base image comes from PYTHON_IMAGE_ARM64, else
PYTHON_IMAGE, else the official python:3.13-slim, which is multi-platform: an engine with the
classic image store holds one platform per name, so there PYTHON_IMAGE_ARM64 names an arm64 one.

Under emulation everything is 10 to 50 times slower: the tests poll over HTTP with generous
bounds and check no timing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.harness.commands import describe, unique
from tools.harness.docker import HARDENED, base_url, container, docker, inspect, try_build, volume
from tools.harness.net import http, wait_for_http
from tools.harness.platforms import (
    ARM64,
    BUILD_TIMEOUT,
    EMULATED,
    assert_turns_healthy,
    base_hint,
)
from tools.harness.project import ROOT

pytestmark = pytest.mark.arm64


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
