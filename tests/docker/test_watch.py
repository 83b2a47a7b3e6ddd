"""Compose Watch mode (docker-compose.watch.yml on top of the dev stack), as a developer on
Docker Desktop runs it: no bind mount of the source; compose copies saved files into the
container and rebuilds the image when the pins change.

One stack from a copy of the project whose GET / tells what the serving app process imported
(tools/harness/pins.py), with `compose watch` running beside it. In order: no bind mount, an
edit is served, a breakpoint hits before and after a reload (same path mappings as with the
mount), then a package added with scripts/lock is served after the rebuild compose does alone.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness import editors, pins
from tools.harness.commands import describe, find_tool, run, unique
from tools.harness.compose import COMPOSE_FILE, WATCH_FILE, ComposeStack, dev_stack, watching
from tools.harness.docker import inspect
from tools.harness.editors import ServiceTarget
from tools.harness.project import owned_checkout

# How long a saved file may take to be served, and a re-pinned stack to be rebuilt and serve.
RELOAD_TIMEOUT = 15
REBUILD_TIMEOUT = 240


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory) -> Iterator[ComposeStack]:
    workspace = owned_checkout(tmp_path_factory.mktemp("watch") / "berth")
    pins.add_import_probe(workspace)
    with dev_stack(workspace, unique("berth-watch"), files=(COMPOSE_FILE, WATCH_FILE)) as up:
        yield up
    shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def watch_log(stack) -> Iterator[Path]:
    with watching(stack) as log:
        yield log


@pytest.fixture(scope="module")
def target(stack, watch_log) -> ServiceTarget:
    return stack.target()


def test_the_source_is_not_bind_mounted(stack):
    mounts = json.loads(inspect(stack.container(), "{{json .Mounts}}"))
    assert [m for m in mounts if m["Destination"] == "/app"] == [], mounts
    assert {m["Destination"] for m in mounts if m["Type"] == "volume"} == {"/data"}, mounts


def test_an_edit_is_served(target):
    for attempt in ("first", "again"):
        seconds = target.edit(within=RELOAD_TIMEOUT)
        print(f"watch mode, {attempt} edit: served {seconds:.2f} s after the write")


def test_a_breakpoint_hits_before_and_after_a_reload(target):
    pid = "__import__('os').getpid()"
    with editors.session(target) as session:
        first = editors.hit(target, session, evaluate=[pid])
        target.edit(within=RELOAD_TIMEOUT)
        second = editors.hit(target, session, evaluate=[pid])
        assert not session.errors, session.errors
    assert first.evaluated[pid] != second.evaluated[pid], "the hit was in the old app process"
    editors.attach_and_hit(target)


def test_a_package_added_with_scripts_lock_is_served_after_a_rebuild(stack, watch_log, target):
    uv = find_tool("uv")
    assert uv, "uv is missing: pip install -r tools/requirements.txt (scripts/test does)"
    workspace = stack.workspace
    assert pins.served_version(stack.url) == "missing"
    before = stack.container()
    with (workspace / "requirements.in").open("a") as wanted:
        wanted.write(f"{pins.PACKAGE}=={pins.VERSION}\n")
    path = os.pathsep.join([str(Path(uv).parent), os.environ.get("PATH", "")])
    locked = run([workspace / "scripts" / "lock"], cwd=workspace, env={"PATH": path}, check=False)
    assert locked.returncode == 0, describe(locked)
    assert f"{pins.PACKAGE}=={pins.VERSION}" in (workspace / "requirements.txt").read_text()
    start = time.monotonic()
    while pins.served_version(stack.url) != pins.VERSION:
        elapsed = time.monotonic() - start
        assert elapsed < REBUILD_TIMEOUT, watch_log.read_text(errors="replace")[-4000:]
        time.sleep(0.2)
    print(f"watch mode, package added: served {time.monotonic() - start:.1f} s after scripts/lock")
    assert 'service "web" successfully built' in watch_log.read_text(errors="replace")
    # A new container of a new image, with the package in its venv; the notes survived on the
    # data volume.
    assert stack.container() != before
    assert stack.exec("python", "-c", f"import {pins.PACKAGE}").returncode == 0
    assert target.request().status == 200
