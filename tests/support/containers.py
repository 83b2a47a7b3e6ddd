"""Helpers for tests that drive the real Docker engine: builds, containers, volumes, HTTP.

Every container is reached through a port published on 127.0.0.1, every wait is bounded in
time, and everything a helper starts is removed by the same helper (context managers).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client as http_client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a copy of the project leaves out: local state that is not part of the product.
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "instance",
    "results",
    ".env",
)


def unique(prefix: str) -> str:
    """A name no other test run uses (compose projects, containers, volumes, tags)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 120,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    replace_env: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, and fail with that output when it fails. ``env`` adds
    to this process's environment, or with ``replace_env`` is the whole environment."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else env if replace_env else {**os.environ, **env},
        input=input,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"command failed: {describe(result)}")
    return result


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A finished command for an assertion message: exit code, command, the ends of its output."""
    command = " ".join(map(str, result.args))
    return (
        f"exit {result.returncode}: {command}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def docker(*args: str | os.PathLike[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], **kwargs)


def find_tool(name: str) -> str | None:
    """A pinned test tool: next to this Python first (the test venv's, even when it is not
    activated), then the project's node_modules/.bin (the Dev Containers CLI), then PATH."""
    search = os.pathsep.join(
        [
            str(Path(sys.executable).parent),
            str(ROOT / "node_modules" / ".bin"),
            os.environ.get("PATH", ""),
        ]
    )
    return shutil.which(name, path=search)


def host_tool(name: str) -> str:
    """A test tool from requirements-ci.txt (see find_tool); a clear failure when missing."""
    found = find_tool(name)
    assert found, f"{name} is missing: pip install -r requirements-ci.txt (scripts/test does)"
    return found


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give a folder and everything in it to uid:gid (root only), as a developer owns a checkout."""
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def devcontainer_uid_image(workspace: Path) -> str:
    """The image the Dev Containers CLI derives for updateRemoteUserUID:
    vsc-<folder>-<sha256(path)>-uid (made only when it remaps the user)."""
    digest = hashlib.sha256(str(workspace).encode()).hexdigest()
    return f"vsc-{workspace.name.lower()}-{digest}-uid"


def extra_ca_bundle() -> str | None:
    """The optional CA bundle for TLS-intercepting proxies, as the project documents it."""
    path = os.environ.get("EXTRA_CA_BUNDLE", "").strip()
    return path or None


def build(
    context: Path,
    target: str,
    tag: str,
    *extra: str,
    timeout: float = 900,
) -> str:
    """`docker buildx build --load`, with the extra CA bundle as a secret when one is set.

    Returns the plain progress log, which tells cached steps from executed ones.
    """
    result = try_build(context, target, tag, *extra, timeout=timeout)
    assert result.returncode == 0, f"command failed: {describe(result)}"
    return result.stdout + result.stderr


def try_build(
    context: Path, target: str, tag: str, *extra: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """As build(), for a build that may fail: the finished command, whatever its outcome."""
    args = ["buildx", "build", "--load", "--progress=plain", "--target", target, "-t", tag]
    ca = extra_ca_bundle()
    if ca and not any(e.startswith("id=extra_ca") for e in extra):
        args += ["--secret", f"id=extra_ca,src={ca}"]
    return docker(*args, *extra, str(context), timeout=timeout, check=False)


def cold_build_caches(project: Path, dockerfile_name: str = "Dockerfile") -> None:
    """Give every cache mount of a Dockerfile in the project an id of its own, as on a machine
    that never built it: the next build downloads every package again (and leaves the shared
    caches of other builds alone)."""
    dockerfile = project / dockerfile_name
    token = unique("berth-cold")
    text, count = re.subn(
        r"--mount=type=cache,target=(\S+?)([,\s])",
        lambda m: f"--mount=type=cache,id={token}{m[1]},target={m[1]}{m[2]}",
        dockerfile.read_text(),
    )
    assert count, "the Dockerfile has no cache mount"
    dockerfile.write_text(text)


@dataclass
class BuildStep:
    state: str  # "CACHED" (answered from the build cache) or "DONE" (really ran)
    seconds: float | None  # as BuildKit reports it; None for a cached step


def build_steps(build_log: str) -> dict[str, BuildStep]:
    """Each step of a `--progress=plain` build log, by title (e.g. '[deps 3/3] RUN ...')."""
    titles: dict[str, str] = {}
    steps: dict[str, BuildStep] = {}
    for line in build_log.splitlines():
        if m := re.match(r"#(\d+) (\[[^\]]+\] .*)", line):
            titles[m[1]] = m[2]
        elif m := re.match(r"#(\d+) (CACHED|DONE)(?: (\d+(?:\.\d+)?)s)?", line):
            seconds = float(m[3]) if m[3] else None
            steps.setdefault(m[1], BuildStep(m[2], seconds))
    return {title: steps.get(n, BuildStep("?", None)) for n, title in titles.items()}


def copy_project(dest: Path) -> Path:
    """A throwaway copy of the working tree, so tests may edit files and build from it."""
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE, symlinks=True)
    return dest


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 (all held open together while picking, so the
    OS cannot hand out the same one twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port() -> int:
    return free_ports(1)[0]


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(
    method: str, url: str, payload: object | None = None, *, timeout: float = 5
) -> HttpResponse:
    """One HTTP request with a JSON body; 4xx/5xx are returned, not raised."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResponse(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpResponse(error.code, dict(error.headers), error.read())


def wait_for_http(
    url: str,
    *,
    timeout: float = 60,
    expect: int = 200,
    body_contains: bytes | None = None,
    check: Callable[[HttpResponse], bool] | None = None,
    interval: float = 0.1,
) -> tuple[HttpResponse, float]:
    """Poll `url` until it answers `expect` (and contains `body_contains`, and passes `check`);
    bounded by `timeout`. Returns the answer and the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = http("GET", url, timeout=min(3, max(0.1, deadline - time.monotonic())))
            if (
                answer.status == expect
                and (body_contains is None or body_contains in answer.body)
                and (check is None or check(answer))
            ):
                return answer, time.monotonic() - start
            last = f"{answer.status} {answer.body[:200]!r}"
        except (OSError, http_client.HTTPException) as error:  # refused, reset: not up yet
            last = error
        time.sleep(interval)
    raise AssertionError(f"{url} did not answer {expect} within {timeout} s; last: {last}")


def published_port(container: str, port: int) -> tuple[str, int]:
    """The (host IP, host port) a container's port is published on."""
    ports = json.loads(
        docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", container).stdout
    )
    binding = ports[f"{port}/tcp"][0]
    return binding["HostIp"], int(binding["HostPort"])


def inspect(obj: str, template: str) -> str:
    return docker("inspect", "--format", template, obj).stdout.strip()


@contextlib.contextmanager
def container(
    image: str, *args: str, name: str | None = None, command: Sequence[str] = ()
) -> Iterator[str]:
    """`docker run -d` with a unique name (and optionally a command); removed (with its
    anonymous volumes) on exit."""
    name = name or unique("berth-test")
    docker("run", "-d", "--name", name, *args, image, *command)
    try:
        yield name
    finally:
        docker("rm", "-f", "-v", name, check=False)


@contextlib.contextmanager
def volume() -> Iterator[str]:
    name = unique("berth-test-data")
    docker("volume", "create", name)
    try:
        yield name
    finally:
        docker("volume", "rm", "-f", name, check=False)


def compose_project_images(project: str) -> set[str]:
    """The images the containers of a compose project run (to remove them after `down`)."""
    containers = docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}", check=False
    ).stdout.split()
    images = (inspect(container, "{{.Config.Image}}") for container in containers)
    return {image for image in images if image}


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


def wait_for_health(container_name: str, *, timeout: float = 60) -> tuple[str, float]:
    """Poll the container's HEALTHCHECK status until healthy/unhealthy; bounded by `timeout`."""
    start = time.monotonic()
    status = ""
    while time.monotonic() - start < timeout:
        status = inspect(container_name, "{{if .State.Health}}{{.State.Health.Status}}{{end}}")
        if status in ("healthy", "unhealthy"):
            break
        time.sleep(0.25)
    return status, time.monotonic() - start
