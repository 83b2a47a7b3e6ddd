"""Fixtures for the container tests: a reachable engine and the two images, built once.

They run with scripts/test (CI) or `pytest -m docker`; plain `pytest` leaves them out (see
pyproject.toml). Selected, they never skip: without an engine they fail, so CI cannot pass by
accident.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.harness.commands import run, unique
from tools.harness.docker import (
    HARDENED,
    base_url,
    build,
    container,
    docker,
    extra_ca_bundle,
    volume,
)
from tools.harness.net import wait_for_http
from tools.harness.platforms import ARM64, base_image, problem
from tools.harness.project import ROOT
from tools.harness.tls import self_signed_certificate


def pytest_collection_modifyitems(items):
    # Everything under tests/docker needs the engine: mark it, so `-m` selects it as a whole.
    for item in items:
        if "tests/docker/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_engine() -> str:
    result = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, timeout=30)
    if result.returncode != 0:
        pytest.fail(
            "the container tests need a running Docker engine (plain `pytest` runs the unit "
            f"tests alone):\n{result.stderr.strip()}",
            pytrace=False,
        )
    return result.stdout.strip()


@pytest.fixture(scope="session")
def arm64_base(docker_engine) -> str:
    """The arm64 base image (PYTHON_IMAGE_ARM64, else PYTHON_IMAGE, else the official name),
    once the builder is known to build arm64."""
    why = problem(ARM64)
    if why:
        pytest.fail(why, pytrace=False)
    return base_image(ARM64)


def _image(target: str):
    @pytest.fixture(scope="session")
    def image(docker_engine) -> str:
        tag = unique(f"berth-test:{target}")
        build(ROOT, target, tag)
        yield tag
        docker("image", "rm", "-f", tag, check=False)

    return image


prod_image = _image("prod")
dev_image = _image("dev")


@pytest.fixture
def prod(prod_image):
    """A hardened prod container on a fresh named volume, serving: (name, base URL)."""
    with volume() as data, container(prod_image, *HARDENED, "-v", f"{data}:/data") as name:
        url = base_url(name)
        wait_for_http(f"{url}/healthz", timeout=30)
        yield name, url


@pytest.fixture
def marked_ca_bundle(tmp_path) -> tuple[Path, str]:
    """A CA bundle with a freshly made certificate in it, and a line unique to that certificate.

    The machine's own extra bundle (if any) comes first so that pip can still reach PyPI.
    """
    _, cert = self_signed_certificate(tmp_path, "marker")
    pem = cert.read_text()
    marker = pem.splitlines()[5]  # a line of base64 in the middle, unique to this certificate
    bundle = tmp_path / "bundle.pem"
    existing = extra_ca_bundle()
    bundle.write_text((Path(existing).read_text() if existing else "") + pem)
    return bundle, marker
