"""The dev compose stack of a copy of the project, as a developer runs it: the one helper for
every test that brings up docker-compose.dev.yml (with the bind mount, or in watch mode with
docker-compose.watch.yml on top).

A stack runs in its own folder (the host side of the bind mount, which tests may edit) with free
host ports on 127.0.0.1, and is removed with its volume and images however the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.containers import (
    chown_tree,
    copy_project,
    describe,
    docker,
    free_ports,
    http,
    run,
    wait_for_http,
)

COMPOSE_FILE = "docker-compose.dev.yml"
WATCH_FILE = "docker-compose.watch.yml"  # on top of COMPOSE_FILE: Compose Watch, no bind mount
# What tests edit: the first line of GET /'s text. Where editors break: on the first line of
# the view that reads one note (GET /api/notes/<id>), which no health check or edit check calls.
LANDING_FILE = Path("app") / "health.py"
BREAKPOINT_FILE = Path("app") / "notes.py"
BREAKPOINT_VIEW = "def get_note("
SERVICE = "web"
# Settings the compose file reads that a developer's shell may hold: a test decides them.
SHELL_SETTINGS = (
    "APP_PORT",
    "DEBUGPY_PORT",
    "DEBUGPY",
    "DEBUGPY_WAIT",
    "RELOAD_POLL",
    "RELOAD_INTERVAL",
    "FLASK_DEBUG",
    "LOG_LEVEL",
    "MAX_BODY_BYTES",
    "PYTHON_VERSION",
    "DATA_DIR",
)


@dataclass
class ComposeStack:
    workspace: Path  # the project copy: the compose file's folder and the bind mount's source
    project: str | None  # None: compose derives the name from the folder, as for a developer
    env: dict[str, str]
    app_port: int
    debugpy_port: int
    files: tuple[str, ...] = (COMPOSE_FILE,)
    up_seconds: float = field(default=0.0)

    def command(self, *args: str) -> list[str]:
        """`docker compose -f docker-compose.dev.yml [-f ...] [-p project] ...`"""
        files = [arg for name in self.files for arg in ("-f", name)]
        name = ["-p", self.project] if self.project else []
        return ["docker", "compose", *files, *name, *args]

    def compose(self, *args: str, timeout: float = 180, check: bool = False):
        """A compose command on this stack, in the workspace."""
        return run(
            self.command(*args),
            cwd=self.workspace,
            env=self.env,
            timeout=timeout,
            check=check,
            replace_env=True,
        )

    def up(self) -> None:
        start = time.monotonic()
        result = self.compose("up", "-d", "--build", "--wait", "--wait-timeout", "120", timeout=900)
        self.up_seconds = time.monotonic() - start
        assert result.returncode == 0, f"{describe(result)}\n--- logs\n{self.logs()[-4000:]}"

    def down(self, *, timeout: float = 10):
        """Remove the stack: containers, network, data volume and the images compose built
        (Compose Watch rebuilds leave the earlier ones untagged)."""
        name = self.name()
        result = self.compose(
            "down", "-v", "--rmi", "local", "--remove-orphans", "-t", str(timeout), timeout=180
        )
        label = f"label=com.docker.compose.project={name}"
        leftovers = docker("images", "-q", "--filter", label, check=False).stdout.split()
        if leftovers:
            docker("image", "rm", *set(leftovers), check=False)
        return result

    def name(self) -> str:
        """The project name: given, or derived by compose from the folder."""
        if self.project:
            return self.project
        result = self.compose("config", "--format", "json", timeout=60)
        assert result.returncode == 0, describe(result)
        return json.loads(result.stdout)["name"]

    def container(self) -> str:
        result = self.compose("ps", "-q", SERVICE, timeout=60)
        ids = result.stdout.split()
        assert result.returncode == 0, describe(result)
        assert len(ids) == 1, describe(result)
        return ids[0]

    def logs(self) -> str:
        result = self.compose("logs", "--no-color", SERVICE, timeout=60)
        return result.stdout + result.stderr

    def exec(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command in the running container as the dev user, as a VS Code terminal runs it."""
        return self.compose("exec", "-T", "-u", "app", SERVICE, *command, timeout=timeout)

    def run(self, *command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A command in a fresh container of the service, as `make test` runs it."""
        return self.compose("run", "--rm", "--no-deps", SERVICE, *command, timeout=timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"


def stack_env(**settings: str) -> dict[str, str]:
    """This process's environment without what would change the stack, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in SHELL_SETTINGS}
    env = {k: v for k, v in env.items() if not k.startswith("COMPOSE_")}
    env.update(settings)
    return env


@contextlib.contextmanager
def dev_stack(
    workspace: Path, project: str | None, files: tuple[str, ...] = (COMPOSE_FILE,), **settings: str
) -> Iterator[ComposeStack]:
    """The dev stack of ``workspace``, up and healthy on free ports; removed afterwards."""
    app_port, debugpy_port = free_ports(2)
    env = stack_env(APP_PORT=str(app_port), DEBUGPY_PORT=str(debugpy_port), **settings)
    stack = ComposeStack(workspace, project, env, app_port, debugpy_port, files)
    try:
        stack.up()
        yield stack
    finally:
        stack.down(timeout=3)


@contextlib.contextmanager
def watching(stack: ComposeStack, *, timeout: float = 60) -> Iterator[Path]:
    """`compose watch --no-up` on a running stack, as a developer leaves it running; yields the
    file its output goes to. Stopped (Ctrl-C, as in a terminal) afterwards."""
    with tempfile.NamedTemporaryFile("w+", prefix="berth-watch-", suffix=".log") as log:
        process = subprocess.Popen(
            stack.command("watch", "--no-up"),
            cwd=stack.workspace,
            env=stack.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while "Watch enabled" not in Path(log.name).read_text(errors="replace"):
                assert process.poll() is None, Path(log.name).read_text(errors="replace")
                assert time.monotonic() < deadline, "compose watch did not start watching"
                time.sleep(0.1)
            yield Path(log.name)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


def owned_checkout(root: Path, uid: int | None = None, gid: int | None = None) -> Path:
    """A copy of the project, a git checkout like a developer's, owned by uid:gid (by default,
    by whoever runs the tests)."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    workspace = copy_project(root)
    run(["git", "init", "-q", workspace])
    run(["git", "-C", workspace, "add", "-A"])
    if (uid, gid) != (os.getuid(), os.getgid()):
        chown_tree(workspace, uid, gid)
    return workspace


def edit_landing_page(workspace: Path) -> str:
    """Put a unique marker into GET /'s first line in the host copy; return that line."""
    landing = workspace / LANDING_FILE
    source = landing.read_text()
    marker = f"berth: edited on the host {uuid.uuid4().hex[:10]}"
    edited = re.sub(r"^berth: .*$", marker, source, count=1, flags=re.MULTILINE)
    assert edited != source, f"{LANDING_FILE} no longer starts its text with 'berth: '"
    # Keep the owner: an editor saving a file does not change who owns it.
    owner = landing.stat()
    landing.write_text(edited)
    os.chown(landing, owner.st_uid, owner.st_gid)
    return marker


class StackTarget:
    """The dev stack as editors.DebugTarget: an editor on the host, attached to the container."""

    def __init__(self, stack: ComposeStack) -> None:
        self.stack = stack
        self.debugpy_port = stack.debugpy_port
        self.breakpoint_file = stack.workspace / BREAKPOINT_FILE
        lines = [
            n + 1
            for n, text in enumerate(self.breakpoint_file.read_text().splitlines(), 1)
            if text.startswith(BREAKPOINT_VIEW)
        ]
        assert len(lines) == 1, f"{BREAKPOINT_FILE}: expected one {BREAKPOINT_VIEW!r}: {lines}"
        self.breakpoint_line = lines[0]
        self.path_mappings = [{"localRoot": str(stack.workspace), "remoteRoot": "/app"}]
        created = http("POST", stack.url + "/api/notes", {"title": "stop here"})
        assert created.status == 201, created.body
        self.note_id = created.json()["id"]

    def request(self):
        return http("GET", f"{self.stack.url}/api/notes/{self.note_id}", timeout=60)

    def edit(self, within: float) -> float:
        marker = edit_landing_page(self.stack.workspace)
        _, seconds = wait_for_http(
            self.stack.url + "/", body_contains=marker.encode(), timeout=within, interval=0.05
        )
        return seconds

    def kill_adapter(self) -> None:
        result = self.stack.exec("pkill", "-KILL", "-f", "--", "--for-server")
        assert result.returncode == 0, describe(result)

    def log(self) -> str:
        return self.stack.logs()
