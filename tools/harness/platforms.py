"""Platforms other than the machine's own (linux/arm64 on an amd64 machine: Apple Silicon,
Graviton): which base image builds them, and whether the builder can.

On a machine whose engine can pull, the official python image is multi-platform and one name
serves every platform. An engine with the classic image store keeps one platform per name, and
a mirror may name each architecture apart: PYTHON_IMAGE_ARM64 names the arm64 base then (as
for scripts/prod-build and .env.example).
"""

from __future__ import annotations

import os

from .docker import docker, health_checks, python_image, wait_for_health

ARM64 = "linux/arm64"
OFFICIAL_PYTHON_IMAGE = "python:3.13-slim"
# Bounds for one step under emulation (a start, a reload, an attach), far above what it takes:
# emulated, everything is 10 to 50 times slower.
EMULATED = 300
BUILD_TIMEOUT = 2400


def base_setting(platform: str) -> str:
    """The setting that names ``platform``'s base image: PYTHON_IMAGE_ARM64 for linux/arm64."""
    return "PYTHON_IMAGE_" + platform.split("/", 1)[1].replace("/", "_").upper()


def base_image(platform: str) -> str:
    """The base image for ``platform``: its base_setting(), else PYTHON_IMAGE, else the
    official name."""
    own = os.environ.get(base_setting(platform), "").strip()
    return own or python_image() or OFFICIAL_PYTHON_IMAGE


def builder_platforms() -> list[str]:
    """What the current buildx builder can build, emulated platforms included."""
    out = docker("buildx", "inspect", timeout=60).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("Platforms:")), "Platforms:")
    return [p.strip().rstrip("*") for p in line.split(":", 1)[1].split(",") if p.strip()]


def problem(platform: str) -> str | None:
    """Why the builder cannot build ``platform`` here, or None."""
    if platform in builder_platforms():
        return None
    return (
        f"the builder cannot build {platform} (no emulation: install QEMU's binfmt handlers, "
        "e.g. docker run --privileged --rm tonistiigi/binfmt --install arm64)"
    )


def base_hint(platform: str) -> str:
    """What to do when a build for ``platform`` found no base image for it: the local image of
    that name is another platform's (an engine with the classic image store keeps one per
    name), and no registry could give the right one."""
    base = base_image(platform)
    found = docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", base, check=False)
    if found.returncode != 0 or found.stdout.strip() == platform:
        return ""
    return (
        f"the local {base} is {found.stdout.strip()}, not {platform}; set {base_setting(platform)} "
        f"to a {platform} python image"
    )


def assert_turns_healthy(name: str) -> None:
    """The image's own HEALTHCHECK, with its own timeout, passes under emulation too (while the
    app starts, emulated, the status may be unhealthy for a while)."""
    status, took = wait_for_health(name, timeout=EMULATED, until=("healthy",))
    checks = health_checks(name)
    print(f"healthchecks (exit code, seconds): {checks}")
    assert status == "healthy", f"{status} after {took:.0f} s; last checks {checks}"
