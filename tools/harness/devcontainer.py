"""The Dev Containers CLI (.devcontainer/) driven like VS Code's "Reopen in Container": the one
helper for the dev container tests and the start-up benchmark.

The CLI is the one tools/package.json pins, from tools/node_modules/.bin (scripts/test installs
it). Each DevContainer has its own compose project (so its own image) and free ports on
127.0.0.1, and `down()` / `remove_images()` take everything away again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from .commands import describe, find_tool, run, unique
from .compose import compose_down, compose_project_images
from .docker import docker
from .net import free_ports, http
from .project import ROOT

INSTALL = "run `npm ci --prefix tools`"
PIN = json.loads((ROOT / "tools" / "package.json").read_text())["devDependencies"][
    "@devcontainers/cli"
]


def find_cli() -> tuple[str | None, str]:
    """The pinned CLI, or None and what to do about it."""
    cli = find_tool("devcontainer")
    if cli is None:
        return None, f"the Dev Containers CLI is missing: {INSTALL} (scripts/test does)"
    version = run([cli, "--version"], check=False, timeout=60).stdout.strip()
    if version != PIN:
        return None, f"{cli} is version {version!r}, tools/package.json pins {PIN}: {INSTALL}"
    return cli, ""


def uid_image(workspace: Path) -> str:
    """The image the CLI derives for updateRemoteUserUID: vsc-<folder>-<sha256(path)>-uid (made
    only when it remaps the user)."""
    digest = hashlib.sha256(str(workspace).encode()).hexdigest()
    return f"vsc-{workspace.name.lower()}-{digest}-uid"


class DevContainer:
    def __init__(self, cli: str, workspace: Path, tmp: Path, project: str | None = None) -> None:
        self.cli = cli
        self.workspace = workspace  # the host folder, bind-mounted at /app
        self.project = project or unique("berth-devcontainer")
        self.app_port, self.debugpy_port = free_ports(2)
        tmp.mkdir(parents=True, exist_ok=True)
        self.log_dir = tmp
        self.env = {k: v for k, v in os.environ.items() if k != "COMPOSE_FILE"}
        self.env.update(
            TMPDIR=str(tmp),  # the CLI writes its own files here
            COMPOSE_PROJECT_NAME=self.project,
            APP_PORT=str(self.app_port),
            DEBUGPY_PORT=str(self.debugpy_port),
        )
        # compose names the image it builds after the project: <project>-web.
        self.images = {f"{self.project}-web", uid_image(workspace)}
        self.result: dict = {}  # `devcontainer up`'s JSON answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def container(self) -> str:
        return self.result["containerId"]

    def up(self, *flags: str, timeout: float = 900) -> tuple[float, float]:
        """`devcontainer up`; returns the seconds until it returned and until it had returned and
        /healthz answered 200. Fails with the CLI's output when it does not succeed."""
        out_path, err_path = self.log_dir / "up.out", self.log_dir / "up.err"
        with out_path.open("w") as out, err_path.open("w") as err:
            start = time.monotonic()
            process = subprocess.Popen(
                [self.cli, "up", "--workspace-folder", str(self.workspace), *flags],
                stdout=out,
                stderr=err,
                text=True,
                env=self.env,
            )
            returned = healthy = None
            try:
                while returned is None or healthy is None:
                    if time.monotonic() - start > timeout:
                        raise TimeoutError(f"devcontainer up: no healthy app within {timeout} s")
                    if returned is None and process.poll() is not None:
                        returned = time.monotonic()
                        if process.returncode != 0:
                            break
                    if healthy is None and self._healthy():
                        healthy = time.monotonic()
                    time.sleep(0.02)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
        output = out_path.read_text()
        answers = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not answers or answers[-1].get("outcome") != "success":
            raise RuntimeError(
                f"devcontainer up failed ({process.returncode}):\n{output[-2000:]}\n"
                f"{err_path.read_text()[-3000:]}"
            )
        self.result = answers[-1]
        return returned - start, max(returned, healthy) - start

    def _healthy(self) -> bool:
        try:
            return http("GET", f"{self.url}/healthz", timeout=1).status == 200
        except OSError:
            return False

    def cli_run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run([self.cli, *args], env=self.env, replace_env=True, timeout=timeout, check=False)

    def exec(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`devcontainer exec` in the workspace, as the remote user (like a VS Code terminal)."""
        return self.cli_run(
            "exec", "--workspace-folder", str(self.workspace), *command, timeout=timeout
        )

    def read_configuration(self) -> dict:
        result = self.cli_run("read-configuration", "--workspace-folder", str(self.workspace))
        assert result.returncode == 0, describe(result)
        return json.loads(result.stdout)

    def down(self) -> None:
        self.images |= compose_project_images(self.project)
        compose_down(self.project)

    def remove_images(self) -> None:
        for image in sorted(self.images):
            docker("image", "rm", "-f", image, check=False)
