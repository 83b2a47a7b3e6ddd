"""Podman, rootless as its users run it: the prod image hardened, and the dev stack through
compose on Podman's API socket with docker-compose.podman.yml (keep-id: the container runs as
`app`, and what it writes in the checkout is the developer's).

Marked `podman`: scripts/test leaves them out; CI runs them as an unprivileged user, beside the
rootless Docker engine. Podman builds the Dockerfile from 5.6 on (COPY --link); an older one
(Debian bookworm's 4.3, what CI has) runs the images Docker built, which the tests hand over
with `docker save | podman load`. Without systemd Podman runs no healthchecks, so the tests
poll over HTTP (docs/platforms.md: what could not be tested).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness import editors
from tools.harness.commands import describe, unique
from tools.harness.compose import COMPOSE_FILE, ComposeStack, stack_env
from tools.harness.net import free_ports, http, wait_for_http
from tools.harness.podman import Podman, podman, problem
from tools.harness.project import edit_landing_page, owned_checkout

pytestmark = pytest.mark.podman

PODMAN_FILE = "docker-compose.podman.yml"
IMAGE_UID = 1000  # the dev image's user, which keep-id maps the developer to


@pytest.fixture(scope="module")
def engine(docker_engine, prod_image, dev_image) -> Iterator[Podman]:
    why = problem()
    if why:
        pytest.fail(why, pytrace=False)
    with podman() as running:
        running.load(prod_image, dev_image)
        yield running


def test_prod_runs_hardened(engine, prod_image):
    name, (port,) = unique("berth-test-podman"), free_ports(1)
    volume = unique("berth-test-podman-data")
    engine("volume", "create", volume)
    try:
        engine(
            "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "-p", f"127.0.0.1:{port}:8000",
            "-v", f"{volume}:/data", prod_image,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz", timeout=60)
        created = http("POST", f"{url}/api/notes", {"title": "on podman"})
        assert created.status == 201, created.body
        read = http("GET", f"{url}/api/notes/{created.json()['id']}")
        assert read.json()["title"] == "on podman"
        assert engine("exec", name, "id", "-u").stdout.strip() == "10001"
        # The image's HEALTHCHECK came along (Podman keeps it in Docker-format images).
        health = json.loads(
            engine("inspect", "--format", "{{json .Config.Healthcheck}}", name).stdout
        )
        assert health["Test"] == ["CMD", "healthcheck"], health
    finally:
        engine("rm", "-f", name, check=False)
        engine("volume", "rm", "-f", volume, check=False)


@pytest.fixture(scope="module")
def stack(engine, dev_image, tmp_path_factory) -> Iterator[ComposeStack]:
    """The dev stack as the docs say to run it on Podman: the image built (here: handed over),
    then compose with the Podman file on top, on Podman's socket, without building."""
    workspace = owned_checkout(tmp_path_factory.mktemp("podman-dev") / "berth")
    project = unique("berth-podman")
    engine("tag", dev_image, f"{project}-web")
    app_port, debugpy_port = free_ports(2)
    env = stack_env(
        APP_PORT=str(app_port), DEBUGPY_PORT=str(debugpy_port), DOCKER_HOST=engine.docker_host
    )
    running = ComposeStack(
        workspace, project, env, app_port, debugpy_port, files=(COMPOSE_FILE, PODMAN_FILE)
    )
    try:
        result = running.compose("up", "-d", "--no-build", timeout=300)
        assert result.returncode == 0, describe(result)
        wait_for_http(f"{running.url}/healthz", timeout=60)
        yield running
    finally:
        running.compose("down", "-v", "-t", "3", timeout=120)
        shutil.rmtree(workspace, ignore_errors=True)


def test_the_dev_container_runs_as_app_and_writes_as_the_developer(stack):
    name = f"made-on-podman-{uuid.uuid4().hex[:8]}"
    venv = 'sp=$(python -c "import sysconfig; print(sysconfig.get_path(\\"purelib\\"))"); '
    venv += 'touch "$sp/berth-probe" && rm "$sp/berth-probe"; '
    result = stack.compose(
        "exec", "-T", "web", "sh", "-c", f"set -e; {venv}touch {name}; id -un; id -u", timeout=120
    )
    assert result.returncode == 0, describe(result)
    assert result.stdout.split()[-2:] == ["app", str(IMAGE_UID)], describe(result)
    made = (stack.workspace / name).stat()
    assert (made.st_uid, made.st_gid) == (os.getuid(), os.getgid())
    (stack.workspace / name).unlink()


def test_a_save_is_served(stack):
    marker = edit_landing_page(stack.workspace)
    answer, seconds = wait_for_http(stack.url + "/", body_contains=marker.encode(), timeout=30)
    print(f"reload on Podman: {seconds:.2f} s")
    assert answer.body.startswith(marker.encode())


def test_the_debugger_stops_at_a_breakpoint(stack):
    target = editors.ServiceTarget(
        stack.url, stack.debugpy_port, Path(stack.workspace), stack.logs, stack.exec
    )
    hit = editors.attach_and_hit(target)
    assert hit.variables["note_id"] == str(target.note_id)
