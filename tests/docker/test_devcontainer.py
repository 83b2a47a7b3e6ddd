"""The dev container (.devcontainer/) through the real Dev Containers CLI on the real engine.

One `devcontainer up` serves the whole module: a throwaway copy of the project, its own compose
project name (so its own image) and free ports on 127.0.0.1, all removed afterwards. Against it: the
tools run by `devcontainer exec` as the non-root remote user in /app with the venv's Python, the
app answers on its published port, a host edit reloads it, and a debugger session built from
.vscode/launch.json stops at a breakpoint in a route served by the reloader's child.

The CLI is the one pinned in package.json, from node_modules/.bin (`npm ci`; scripts/test does
it). Without it the module fails, like the other container tests do without an engine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.containers import (
    ROOT,
    chown_tree,
    compose_down,
    compose_project_images,
    copy_project,
    describe,
    devcontainer_uid_image,
    docker,
    find_tool,
    free_ports,
    http,
    published_port,
    unique,
    wait_for_http,
)
from tests.support.dap import DebugSession

CLI_PIN = json.loads((ROOT / "package.json").read_text())["devDependencies"]["@devcontainers/cli"]
# The image's user and its ids when nothing remaps them (Dockerfile ARG UID/GID defaults).
REMOTE_USER, IMAGE_UID = "app", 1000
ATTACH_CONFIG = "Attach to berth (container)"


@pytest.fixture(scope="module")
def devcontainer_cli() -> str:
    cli = find_tool("devcontainer")
    if cli is None:
        pytest.fail(
            "the Dev Containers CLI is missing: run `npm ci` in the project root (scripts/test "
            "does) so that node_modules/.bin/devcontainer exists",
            pytrace=False,
        )
    version = subprocess.run(
        [cli, "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.strip()
    if version != CLI_PIN:
        pytest.fail(
            f"{cli} is version {version!r}, package.json pins {CLI_PIN}: run `npm ci`",
            pytrace=False,
        )
    return cli


@dataclass
class DevContainer:
    cli: str
    workspace: Path  # the host copy, bind-mounted at /app
    env: dict[str, str]  # the CLI's environment
    project: str  # compose project name
    up: dict  # `devcontainer up`'s JSON result
    up_seconds: float
    app_port: int
    debugpy_port: int

    def cli_run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.cli, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )

    def exec(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`devcontainer exec` in the workspace, as the remote user (like a VS Code terminal)."""
        return self.cli_run(
            "exec", "--workspace-folder", str(self.workspace), *command, timeout=timeout
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def container(self) -> str:
        return self.up["containerId"]


def _teardown(project: str, images: list[str]) -> None:
    images = [*images, *compose_project_images(project)]
    compose_down(project)
    for image in dict.fromkeys(i for i in images if i):
        docker("image", "rm", "-f", image, check=False)


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
    project = unique("berth-devcontainer")
    app_port, debugpy_port = free_ports(2)
    cli_tmp = tmp_path_factory.mktemp("devcontainer-cli")
    env = {k: v for k, v in os.environ.items() if k != "COMPOSE_FILE"}
    env.update(
        TMPDIR=str(cli_tmp),
        # The CLI and compose take the project name from here: never the shared `berth`.
        COMPOSE_PROJECT_NAME=project,
        # compose interpolates the published host ports.
        APP_PORT=str(app_port),
        DEBUGPY_PORT=str(debugpy_port),
    )
    try:
        start = time.monotonic()
        result = subprocess.run(
            [devcontainer_cli, "up", "--workspace-folder", str(workspace)],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
            check=False,
        )
        seconds = time.monotonic() - start
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.returncode == 0, f"devcontainer up failed: {describe(result)}"
        assert lines, f"devcontainer up printed no JSON result: {describe(result)}"
        yield DevContainer(
            cli=devcontainer_cli,
            workspace=workspace,
            env=env,
            project=project,
            up=json.loads(lines[-1]),
            up_seconds=seconds,
            app_port=app_port,
            debugpy_port=debugpy_port,
        )
    finally:
        # compose names the image it builds after the project: <project>-web.
        _teardown(project, [f"{project}-web", devcontainer_uid_image(workspace)])


def test_read_configuration_accepts_the_config(
    docker_engine, devcontainer_cli, workspace, tmp_path
):
    result = subprocess.run(
        [devcontainer_cli, "read-configuration", "--workspace-folder", str(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, describe(result)
    answer = json.loads(result.stdout)
    config = answer["configuration"]
    assert config["service"] == "web"
    assert config["workspaceFolder"] == "/app"
    assert answer["workspace"]["workspaceFolder"] == "/app"
    assert config["dockerComposeFile"][0] == "../docker-compose.dev.yml"
    assert config["remoteUser"] == REMOTE_USER
    assert config["updateRemoteUserUID"] is True
    assert config["overrideCommand"] is False
    assert config["shutdownAction"] == "stopCompose"
    extensions = config["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "ms-python.debugpy", "charliermarsh.ruff"} <= set(extensions)


def test_up_succeeds_in_its_own_compose_project(dev_container):
    up = dev_container.up
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
    assert binds.get(dev_container.up["remoteWorkspaceFolder"]) == str(dev_container.workspace)


def test_exec_runs_as_the_non_root_user_in_the_workspace_with_the_venv(dev_container):
    script = (
        'id -u; id -un; pwd; python -c "import sys; print(sys.prefix)"; '
        "test -w app/health.py && echo writable || echo read-only"
    )
    result = dev_container.exec("sh", "-c", script)
    assert result.returncode == 0, describe(result)
    uid, user, cwd, prefix, access = result.stdout.split()[-5:]
    assert int(uid) != 0
    # updateRemoteUserUID: your uid on a Linux host; as root the image's uid stays.
    assert int(uid) == (os.getuid() or IMAGE_UID)
    assert user == REMOTE_USER
    assert cwd == "/app"
    assert prefix == "/opt/venv"
    assert access == "writable", "the editor could not save files in the workspace"


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
    health = dev_container.workspace / "app" / "health.py"
    source = health.read_text()
    marker = f"edited from the host {uuid.uuid4().hex[:8]}"
    edited = source.replace("berth: a small JSON notes service", f"berth: {marker}")
    assert edited != source, "app/health.py no longer has the landing text this test edits"
    wait_for_http(dev_container.url + "/", timeout=60)
    health.write_text(edited)
    answer, seconds = wait_for_http(
        dev_container.url + "/", body_contains=marker.encode(), timeout=30
    )
    print(f"reload after a host edit: {seconds:.2f} s")
    assert answer.body.startswith(f"berth: {marker}".encode())


def _attach_config(workspace: Path) -> dict:
    launch = json.loads((workspace / ".vscode" / "launch.json").read_text())
    return next(c for c in launch["configurations"] if c["name"] == ATTACH_CONFIG)


def test_debugger_attaches_with_the_launch_json_config(dev_container):
    """VS Code's attach, from the committed config; the breakpoint hits in the reloader's child."""
    workspace = dev_container.workspace
    config = _attach_config(workspace)
    assert config["request"] == "attach"
    assert config["subProcess"] is True
    # ${workspaceFolder} is the host copy here (an editor on the host, against the stack).
    mappings = [
        {key: value.replace("${workspaceFolder}", str(workspace)) for key, value in m.items()}
        for m in config["pathMappings"]
    ]
    notes = workspace / "app" / "notes.py"
    statement = "note = fetch_note(get_db(), note_id)"
    lines = [n for n, text in enumerate(notes.read_text().splitlines(), 1) if statement in text]
    assert len(lines) == 1, f"app/notes.py: expected one {statement!r}, found lines {lines}"
    line = lines[0]

    wait_for_http(dev_container.url + "/healthz", timeout=60)
    created = http("POST", dev_container.url + "/api/notes", {"title": "debug me"})
    assert created.status == 201, created.body
    note_id = created.json()["id"]

    with DebugSession(
        "127.0.0.1",
        dev_container.debugpy_port,  # the published DEBUGPY_PORT; launch.json's default is 5678
        {str(notes): [line]},
        path_mappings=mappings,
        just_my_code=config["justMyCode"],
        timeout=20,
    ) as session:
        child = session.wait_child(timeout=30)
        assert any(bp.get("verified") for bp in session.verified[child]), session.verified

        hit = session.break_during(
            lambda: http("GET", f"{dev_container.url}/api/notes/{note_id}", timeout=60),
            timeout=30,
        )
        assert hit.frame["line"] == line
        assert Path(hit.frame["source"]["path"]) == notes  # mapped back to the host path
        assert hit.variables["note_id"] == str(note_id)
        assert not hit.returned_while_stopped, "the request finished while stopped"

    answer = hit.result
    assert answer.status == 200
    assert answer.json()["title"] == "debug me"
