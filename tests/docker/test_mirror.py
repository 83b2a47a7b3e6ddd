"""A company mirror's base image reaches every build by one setting, PYTHON_IMAGE, with no file
edited: compose (so `make up`), the dev container and `make prod-build`, from the shell or from
.env. The mirror is the local base image tagged with a registry's name, as a `docker pull` from
a mirror leaves it; each image's label org.opencontainers.image.base.name tells which base it
was built from. (MARIADB_IMAGE: tests/docker/test_compose_file.py.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness.commands import describe, run, unique
from tools.harness.compose import dev_stack
from tools.harness.devcontainer import DevContainer, find_cli
from tools.harness.docker import docker, inspect, python_image
from tools.harness.platforms import OFFICIAL_PYTHON_IMAGE
from tools.harness.project import copy_project

BASE_LABEL = '{{index .Config.Labels "org.opencontainers.image.base.name"}}'


@pytest.fixture(scope="module")
def mirror(docker_engine) -> Iterator[str]:
    """The base image under a mirror's name (unique, so that test runs side by side do not
    share it); the tag goes afterwards, the image stays."""
    name = f"registry.example.com/{unique('berth-test')}/python:3.13-slim"
    docker("tag", python_image() or OFFICIAL_PYTHON_IMAGE, name)
    yield name
    docker("image", "rm", name, check=False)


@pytest.fixture
def project(tmp_path, mirror) -> Path:
    """A copy of the project whose .env names the mirror, as a developer behind one sets it."""
    copy = copy_project(tmp_path / "berth")
    (copy / ".env").write_text(f"PYTHON_IMAGE={mirror}\n")
    return copy


def test_compose_builds_the_dev_image_from_the_mirror(project, mirror):
    with dev_stack(project, unique("berth-mirror"), up=False) as stack:
        config = json.loads(stack.compose("config", "--format", "json", check=True).stdout)
        assert config["services"]["web"]["build"]["args"]["PYTHON_IMAGE"] == mirror
        built = stack.compose("build", timeout=900)
        assert built.returncode == 0, describe(built)
        assert inspect(f"{stack.project}-web", BASE_LABEL) == mirror


def test_the_dev_container_builds_from_the_mirror(project, mirror, tmp_path):
    cli, why = find_cli()
    assert cli, why
    dev = DevContainer(cli, project, tmp_path / "cli")
    try:
        built = dev.cli_run("build", "--workspace-folder", str(project), timeout=900)
        assert built.returncode == 0, describe(built)
        answer = json.loads(built.stdout.strip().splitlines()[-1])
        assert answer["outcome"] == "success", answer
        # One name for a compose configuration, a list for others.
        names = answer["imageName"]
        images = [names] if isinstance(names, str) else names
        dev.images |= set(images)
        assert [inspect(image, BASE_LABEL) for image in images] == [mirror] * len(images)
    finally:
        dev.down()
        dev.remove_images()


def test_make_prod_build_builds_from_the_mirror(project, mirror):
    tag = unique("berth-test:mirror-prod")
    try:
        result = run(["make", "prod-build", f"PROD_IMAGE={tag}"], cwd=project, timeout=900)
        assert f"PYTHON_IMAGE={mirror}" in result.stderr, describe(result)
        assert inspect(tag, BASE_LABEL) == mirror
    finally:
        docker("image", "rm", "-f", tag, check=False)
