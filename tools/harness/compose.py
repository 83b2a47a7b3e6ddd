"""The dev compose stack of a copy of the project, as a developer runs it: the one helper for
every test that brings up docker-compose.dev.yml.

A stack runs in its own folder (the host side of the bind mount, which tests may edit) with free
host ports on 127.0.0.1, and is removed with its volume and image however the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .commands import describe, run
from .docker import docker, inspect
from .editors import ServiceTarget
from .net import free_ports

COMPOSE_FILE = "docker-compose.dev.yml"
WATCH_FILE = "docker-compose.watch.yml"  # on top of COMPOSE_FILE: Compose Watch, no bind mount
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
    "PYTHON_IMAGE",
    "MARIADB_VERSION",
    "MARIADB_IMAGE",
    "DATA_DIR",
    "DATABASE_SERVICE",
    "DATABASE_HOST",
    "DATABASE_USER",
    "DATABASE_NAME",
    "DATABASE_PASSWORD_FILE",
    "MARIADB_USER",
    "MARIADB_DATABASE",
    "MARIADB_PASSWORD",
    "MARIADB_PASSWORD_FILE",
)


@dataclass
class ComposeStack:
    workspace: Path  # the project copy: the compose file's folder and the bind mount's source
    project: str | None  # None: compose derives the name from the folder, as for a developer
    env: dict[str, str]
    app_port: int
    debugpy_port: int
    # A dev image built already (the benchmarks build one for many stacks): `up` uses it as the
    # image compose would build for this project, <project>-web, instead of building.
    image: str | None = None
    files: tuple[str, ...] = (COMPOSE_FILE,)
    profiles: tuple[str, ...] = ()  # as `--profile` flags (COMPOSE_PROFILES goes in env)
    up_seconds: float = field(default=0.0)

    def command(self, *args: str) -> list[str]:
        """`docker compose -f docker-compose.dev.yml [-f ...] [-p project] [--profile ...] ...`"""
        files = [arg for name in self.files for arg in ("-f", name)]
        name = ["-p", self.project] if self.project else []
        profiles = [arg for profile in self.profiles for arg in ("--profile", profile)]
        return ["docker", "compose", *files, *name, *profiles, *args]

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

    def up(self, *, wait: bool = True) -> None:
        """Build (or take ``image``) and start; with ``wait``, until the service is healthy."""
        args = ["up", "-d"]
        if self.image:
            docker("tag", self.image, f"{self.project}-web")
            args.append("--no-build")
        else:
            args.append("--build")
        if wait:
            args += ["--wait", "--wait-timeout", "120"]
        start = time.monotonic()
        result = self.compose(*args, timeout=900)
        self.up_seconds = time.monotonic() - start
        if result.returncode != 0:
            raise RuntimeError(f"{describe(result)}\n--- logs\n{self.logs()[-4000:]}")

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

    def container(self, service: str = SERVICE) -> str:
        result = self.compose("ps", "-q", service, timeout=60)
        ids = result.stdout.split()
        assert result.returncode == 0, describe(result)
        assert len(ids) == 1, describe(result)
        return ids[0]

    def logs(self, *services: str) -> str:
        """The logs of `services` (default: the app's)."""
        result = self.compose("logs", "--no-color", *(services or (SERVICE,)), timeout=60)
        return result.stdout + result.stderr

    def sql(self, statement: str) -> str:
        """SQL as the app's user on the `db` service, with the password file both services
        read (as `make db-shell` logs in); its tab-separated output."""
        result = self.compose(
            "exec", "-T", "db", "sh", "-c",
            'MYSQL_PWD="$(cat "$MARIADB_PASSWORD_FILE")" '
            'exec mariadb -N -B -r -u "$MARIADB_USER" "$MARIADB_DATABASE" -e "$0"', statement,
            timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, describe(result)
        return result.stdout.rstrip("\n")

    def exec(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command in the running container as the dev user, as a VS Code terminal runs it."""
        return self.compose(*_as_dev_user(*command), timeout=timeout)

    @contextlib.contextmanager
    def shell(self) -> Iterator[Shell]:
        """A shell in the running container as the dev user, kept open: its commands start
        within milliseconds, where each `exec` first takes 0.1 to 0.2 s to reach the container."""
        process = subprocess.Popen(
            self.command(*_as_dev_user("sh")),
            cwd=self.workspace,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            shell = Shell(process)
            shell.run("true")  # it is up
            yield shell
        finally:
            with contextlib.suppress(OSError):
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def run(self, *command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A command in a fresh container of the service, as `make test` runs it."""
        return self.compose("run", "--rm", "--no-deps", SERVICE, *command, timeout=timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def target(self) -> ServiceTarget:
        """The stack as an editor on the host sees it (tools.harness.editors)."""
        return ServiceTarget(self.url, self.debugpy_port, self.workspace, self.logs, self.exec)


def _as_dev_user(*command: str) -> tuple[str, ...]:
    """`compose exec` arguments: ``command`` in the running app container as the dev user."""
    return ("exec", "-T", "-u", "app", SERVICE, *command)


class Shell:
    """A shell kept open in a container (ComposeStack.shell)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def run(self, line: str, timeout: float = 30) -> int:
        """Run a command line; its exit status. Its output goes to /dev/null."""
        marker = "berth-shell-done"
        self.process.stdin.write(f"{line} >/dev/null 2>&1; echo {marker} $?\n")
        self.process.stdin.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.process.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        if not answer or not answer[0].startswith(marker):
            raise RuntimeError(f"no answer from the container's shell to {line!r}: {answer}")
        return int(answer[0].split()[1])


def dotenv_line(name: str, value: str) -> str:
    """`NAME=value` as a .env file must hold it for compose, whatever the characters
    (.env.example tells users the same): in single quotes everything is literal; a value with
    a single quote goes in double quotes, where \\ " and $ are escaped (and a newline is \\n)."""
    if "'" not in value and "\n" not in value:
        return f"{name}='{value}'\n"
    for char, escape in (("\\", "\\\\"), ('"', '\\"'), ("$", "$$"), ("\n", "\\n")):
        value = value.replace(char, escape)
    return f'{name}="{value}"\n'


def stack_env(**settings: str) -> dict[str, str]:
    """This process's environment without what would change the stack, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in SHELL_SETTINGS}
    env = {k: v for k, v in env.items() if not k.startswith("COMPOSE_")}
    env.update(settings)
    return env


@contextlib.contextmanager
def dev_stack(
    workspace: Path,
    project: str | None,
    *,
    up: bool = True,
    image: str | None = None,
    files: tuple[str, ...] = (COMPOSE_FILE,),
    profiles: tuple[str, ...] = (),
    **settings: str,
) -> Iterator[ComposeStack]:
    """The dev stack of ``workspace`` on free ports (with ``up``, started and healthy); removed
    afterwards, whatever happened."""
    app_port, debugpy_port = free_ports(2)
    env = stack_env(APP_PORT=str(app_port), DEBUGPY_PORT=str(debugpy_port), **settings)
    stack = ComposeStack(
        workspace, project, env, app_port, debugpy_port, image, files, profiles=profiles
    )
    try:
        if up:
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


def compose_project_images(project: str) -> set[str]:
    """The images built for a compose project's containers (to remove them after `down`):
    compose's <project>-<service> and the Dev Containers CLI's vsc-...-uid. Never an image a
    service only runs (`image: mariadb:11.8`): other projects and users share it."""
    containers = docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}", check=False
    ).stdout.split()
    images = (inspect(container, "{{.Config.Image}}") for container in containers)
    return {image for image in images if image.startswith((f"{project}-", "vsc-"))}


def compose_down(project: str) -> subprocess.CompletedProcess[str]:
    """Remove a compose project (containers, networks, volumes), whatever state it is in."""
    return docker(
        "compose",
        "-p",
        project,
        "down",
        "-v",
        "--remove-orphans",
        "-t",
        "3",
        check=False,
        timeout=120,
    )
