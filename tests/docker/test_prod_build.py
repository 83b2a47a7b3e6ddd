"""scripts/prod-build (`make prod-build`) for several platforms: one image when the engine can
hold one for several platforms (the containerd image store), else one image per platform tagged
<tag>-<arch>, after one line that says what one image would need; a platform the builder cannot
build is one line and exit 1, before anything is built.

The build for both platforms is marked `arm64` (emulated here, it takes minutes).
"""

from __future__ import annotations

import pytest

from tools.harness.commands import describe, run, unique
from tools.harness.docker import docker, inspect
from tools.harness.platforms import ARM64, base_image
from tools.harness.project import ROOT

BOTH = f"linux/amd64,{ARM64}"


def prod_build(tag: str, platforms: str, **settings: str):
    env = {"PROD_IMAGE": tag, "PLATFORMS": platforms, **settings}
    return run([ROOT / "scripts" / "prod-build"], env=env, check=False, cwd=ROOT, timeout=2400)


def containerd_store() -> bool:
    return (
        "io.containerd.snapshotter" in docker("info", "--format", "{{json .DriverStatus}}").stdout
    )


def test_a_platform_the_builder_cannot_build_is_one_line_and_nothing_built(docker_engine):
    tag = unique("berth-test:platforms")
    result = prod_build(tag, "linux/amd64,linux/sparc64")
    assert result.returncode == 1, describe(result)
    assert result.stderr.startswith("prod-build: this builder cannot build linux/sparc64"), (
        describe(result)
    )
    assert len(result.stderr.strip().splitlines()) == 1, describe(result)
    assert "Traceback" not in result.stderr
    assert docker("image", "inspect", tag, check=False).returncode != 0


@pytest.mark.arm64
def test_both_platforms_are_built(docker_engine):
    tag = unique("berth-test:platforms")
    arm64_base, amd64_base = base_image(ARM64), base_image("linux/amd64")
    settings = {"PYTHON_IMAGE_ARM64": arm64_base} if arm64_base != amd64_base else {}
    one_image = containerd_store() and not settings
    images = [tag] if one_image else [f"{tag}-amd64", f"{tag}-arm64"]
    try:
        result = prod_build(tag, BOTH, **settings)
        assert result.returncode == 0, describe(result)
        notes = [line for line in result.stderr.splitlines() if line.startswith("prod-build: ")]
        if one_image:
            assert not any("one image per platform" in line for line in notes), notes
            return  # the engine holds both under one name; `docker image inspect` shows one
        said = [line for line in notes if "one image per platform" in line]
        assert len(said) == 1, notes
        if not containerd_store():
            assert "needs the containerd image store" in said[0], said
        assert said[0].endswith(" ".join(images)), said
        assert [inspect(image, "{{.Os}}/{{.Architecture}}") for image in images] == BOTH.split(",")
    finally:
        docker("image", "rm", "-f", *images, check=False)
