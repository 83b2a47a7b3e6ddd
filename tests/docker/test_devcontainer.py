"""The dev container (.devcontainer/) through the real Dev Containers CLI on the real engine.

One `devcontainer up` serves the whole module (tools/harness/devcontainer.py): a throwaway copy
of the project, its own compose project (so its own image) and free ports on 127.0.0.1, all
removed afterwards. Against it: the tools run by `devcontainer exec` as the non-root remote
user in /app with the venv's Python, the app answers on its published port, a host edit
reloads it, and a debugger session built from .vscode/launch.json stops at a breakpoint in the
app process. Without the pinned CLI the module fails, as the container tests do without an
engine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness import editors
from tools.harness.commands import describe
from tools.harness.devcontainer import DevContainer, find_cli
from tools.harness.docker import docker, published_port
from tools.harness.net import http, wait_for_http
from tools.harness.project import LANDING_FILE, chown_tree, copy_project, edit_landing_page

# The image's user and its ids when nothing remaps them (the Dockerfile's dev user).
REMOTE_USER, IMAGE_UID = "app", 1000
ATTACH_CONFIG = "Attach to berth (container)"


@pytest.fixture(scope="module")
def devcontainer_cli() -> str:
    cli, problem = find_cli()
    if cli is None:
        pytest.fail(problem, pytrace=False)
    return cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of the project, owned like a developer's checkout is owned by the developer.

    As root (CI), the remote user stays uid 1000 (the CLI does not remap to root), so the copy
    is given to uid 1000, the way a developer's files belong to the user the CLI remaps to.
    """
    project = copy_project(tmp_path_factory.mktemp("devcontainer") / "berth")
    if os.getuid() == 0:
        chown_tree(project, IMAGE_UID, IMAGE_UID)
    return project


@pytest.fixture(scope="module")
def dev_container(docker_engine, devcontainer_cli, workspace, tmp_path_factory) -> Iterator:
    container = DevContainer(devcontainer_cli, workspace, tmp_path_factory.mktemp("cli"))
    try:
        container.up_seconds, _ = container.up()
        yield container
    finally:
        container.down()
        container.remove_images()


def test_read_configuration_accepts_the_config(
    docker_engine, devcontainer_cli, workspace, tmp_path
):
    answer = DevContainer(devcontainer_cli, workspace, tmp_path).read_configuration()
    config = answer["configuration"]
    assert config["service"] == "web"
    assert config["workspaceFolder"] == "/app"
    assert answer["workspace"]["workspaceFolder"] == "/app"
    assert config["dockerComposeFile"][0] == "../docker-compose.dev.yml"
    assert config["remoteUser"] == REMOTE_USER
    assert config["updateRemoteUserUID"] is True
    assert config["overrideCommand"] is False
    assert config["shutdownAction"] == "stopCompose"
    # The checks run where a Codespaces prebuild runs them too.
    assert "onCreateCommand" in config
    assert "postCreateCommand" not in config
    extensions = config["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "ms-python.debugpy", "charliermarsh.ruff"} <= set(extensions)


def test_up_succeeds_in_its_own_compose_project(dev_container):
    up = dev_container.result
    print(f"devcontainer up: {dev_container.up_seconds:.1f} s")
    assert up["outcome"] == "success", up
    assert up["remoteUser"] == REMOTE_USER
    assert up["remoteWorkspaceFolder"] == "/app"
    assert up["composeProjectName"] == dev_container.project
    labels = json.loads(
        docker("inspect", "--format", "{{json .Config.Labels}}", dev_container.container()).stdout
    )
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.project"] == dev_container.project


def test_workspace_folder_is_the_bind_mounted_project(dev_container):
    mounts = json.loads(
        docker("inspect", "--format", "{{json .Mounts}}", dev_container.container()).stdout
    )
    binds = {m["Destination"]: m["Source"] for m in mounts if m["Type"] == "bind"}
    assert binds.get(dev_container.result["remoteWorkspaceFolder"]) == str(dev_container.workspace)


def test_exec_runs_as_the_checkout_owner_in_the_workspace_with_the_venv(dev_container):
    """As the remote user, who is the checkout's owner: on the host, what the editor's commands
    write is the developer's, never root's."""
    created = dev_container.workspace / "created-by-exec"
    script = (
        f'id -u; getent passwd {REMOTE_USER} | cut -d: -f3; pwd; python -c "import sys; '
        'print(sys.prefix)"; test -w app/health.py && echo writable || echo read-only; '
        f"stat -c %u /app; touch {created.name}"
    )
    try:
        result = dev_container.exec("sh", "-c", script)
        assert result.returncode == 0, describe(result)
        uid, user_uid, cwd, prefix, access, owner_inside = result.stdout.split()[-6:]
        # The remote user (by its uid: under a rootless engine it shares 0 with root, and
        # `id -un` says root). updateRemoteUserUID (your uid on a Linux host; as root the
        # image's uid stays) and the entrypoint make it the owner of /app as the container
        # sees it: under a rootless engine that is root, which is the developer on the host.
        assert uid == user_uid
        assert uid == owner_inside
        assert cwd == "/app"
        assert prefix == "/opt/venv"
        assert access == "writable", "the editor could not save files in the workspace"
        owner = dev_container.workspace.stat()
        assert owner.st_uid != 0
        made = created.stat()
        assert (made.st_uid, made.st_gid) == (owner.st_uid, owner.st_gid)
    finally:
        created.unlink(missing_ok=True)


def test_exec_pytest_runs_the_unit_tests(dev_container):
    result = dev_container.exec("pytest", "-q", "-p", "no:cacheprovider", timeout=300)
    assert result.returncode == 0, describe(result)
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed, summary
    assert int(passed[1]) > 0, summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary


def test_exec_ruff_check_passes(dev_container):
    result = dev_container.exec("ruff", "check", timeout=120)
    assert result.returncode == 0, describe(result)


def test_app_answers_on_its_loopback_port(dev_container):
    answer, _ = wait_for_http(dev_container.url + "/healthz", timeout=60)
    assert answer.json() == {"status": "ok"}
    index = http("GET", dev_container.url + "/")
    assert index.status == 200
    assert index.body.startswith(b"berth:")
    for port in (8000, 5678):
        host_ip, _ = published_port(dev_container.container(), port)
        assert host_ip == "127.0.0.1"


def test_host_edit_reloads_the_app(dev_container):
    wait_for_http(dev_container.url + "/", timeout=60)
    marker = edit_landing_page(dev_container.workspace)
    answer, seconds = wait_for_http(
        dev_container.url + "/", body_contains=marker.encode(), timeout=30
    )
    print(f"reload after a host edit of {LANDING_FILE}: {seconds:.2f} s")
    assert answer.body.startswith(marker.encode())


def _attach_config(workspace: Path) -> dict:
    launch = json.loads((workspace / ".vscode" / "launch.json").read_text())
    return next(c for c in launch["configurations"] if c["name"] == ATTACH_CONFIG)


def test_debugger_attaches_with_the_launch_json_config(dev_container):
    """VS Code's attach, from the committed config; the breakpoint hits in the app process."""
    workspace = dev_container.workspace
    config = _attach_config(workspace)
    assert config["request"] == "attach"
    assert config["subProcess"] is True
    # ${workspaceFolder} is the host copy here (an editor on the host, against the stack).
    mappings = [
        {key: value.replace("${workspaceFolder}", str(workspace)) for key, value in m.items()}
        for m in config["pathMappings"]
    ]
    wait_for_http(dev_container.url + "/healthz", timeout=60)
    target = editors.ServiceTarget(
        dev_container.url,
        dev_container.debugpy_port,  # the published DEBUGPY_PORT; launch.json's default is 5678
        workspace,
        logs=lambda: "",
        exec=dev_container.exec,
        path_mappings=mappings,
    )
    with editors.session(target, just_my_code=config["justMyCode"]) as session:
        hit = editors.hit(target, session)
    assert hit.variables["note_id"] == str(target.note_id)
    assert hit.result.json()["title"] == "stop here"
