"""The Docker engine: builds (with the optional CA bundle as a secret), containers and
volumes that remove themselves, inspection, health.

Every container is reached through a port published on 127.0.0.1, every wait is bounded in
time, and everything a helper starts is removed by the same helper (context managers).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .commands import describe, run, unique


def docker(*args: str | os.PathLike[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], **kwargs)


def extra_ca_bundle() -> str | None:
    """The optional CA bundle for TLS-intercepting proxies, as the project documents it."""
    path = os.environ.get("EXTRA_CA_BUNDLE", "").strip()
    return path or None


def python_image() -> str | None:
    """The base image named in the environment (a company mirror's), as the project documents
    it; None: the Dockerfile's default."""
    name = os.environ.get("PYTHON_IMAGE", "").strip()
    return name or None


def build(
    context: Path,
    target: str,
    tag: str,
    *extra: str,
    timeout: float = 900,
) -> str:
    """`docker buildx build --load`, with the extra CA bundle as a secret and the base image
    from PYTHON_IMAGE when they are set.

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
    base = python_image()
    if base and not any(e.startswith("PYTHON_IMAGE=") for e in extra):
        args += ["--build-arg", f"PYTHON_IMAGE={base}"]
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


def published_port(container: str, port: int) -> tuple[str, int]:
    """The (host IP, host port) a container's port is published on."""
    ports = json.loads(
        docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", container).stdout
    )
    binding = ports[f"{port}/tcp"][0]
    return binding["HostIp"], int(binding["HostPort"])


# The hardened way the README tells people to run prod: nothing writable but /data and /tmp,
# no Linux capabilities, no privilege escalation, reachable from this machine only.
HARDENED = (
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "-p",
    "127.0.0.1::8000",
)


def base_url(name: str) -> str:
    """http://127.0.0.1:<port> of a container's port 8000, which must be on loopback."""
    host, port = published_port(name, 8000)
    assert host == "127.0.0.1", f"published on {host}, not loopback"
    return f"http://127.0.0.1:{port}"


def json_log(name: str) -> list[dict]:
    """Every line a container logged (stdout, then stderr), each parsed as one JSON object:
    a line that is not one fails, showing it."""
    logs = docker("logs", name)
    lines = []
    for stream in (logs.stdout, logs.stderr):
        for line in stream.splitlines():
            try:
                parsed = json.loads(line)
            except ValueError:
                parsed = None
            assert isinstance(parsed, dict), f"not a JSON log line: {line[:500]!r}"
            lines.append(parsed)
    return lines


def logged_errors(name: str) -> list[dict]:
    """The lines of a container's JSON log at level ERROR or above."""
    return [line for line in json_log(name) if line.get("level") in ("ERROR", "CRITICAL")]


def inspect(obj: str, template: str) -> str:
    return docker("inspect", "--format", template, obj).stdout.strip()


@dataclass(frozen=True)
class Process:
    pid: int
    uid: int  # effective, as the container sees it
    gid: int
    args: str


# Lists the container's processes from its own /proc, leaving itself out. `docker top` would
# ask the engine, which needs cgroups to find them: a rootless engine without cgroups (cgroup
# v1) answers "unable to get all container pids".
LIST_PROCESSES = """
import json, os
found = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().replace(b"\\0", b" ").decode(errors="replace").strip()
    except OSError:  # ended meanwhile
        continue
    if int(pid) != os.getpid():
        found.append([int(pid), int(fields["Uid"].split()[1]), int(fields["Gid"].split()[1]), args])
print(json.dumps(found))
"""


def processes(container_name: str) -> list[Process]:
    """Every process of a running container (the image must have python)."""
    out = docker("exec", container_name, "python", "-c", LIST_PROCESSES).stdout
    return [Process(*entry) for entry in json.loads(out)]


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


def wait_for_health(
    container_name: str, *, timeout: float = 60, until: Sequence[str] = ("healthy", "unhealthy")
) -> tuple[str, float]:
    """Poll the container's HEALTHCHECK status until it is one of ``until`` (by default healthy
    or unhealthy); bounded by `timeout`. Returns the last status and the seconds waited."""
    start = time.monotonic()
    status = ""
    while time.monotonic() - start < timeout:
        status = inspect(container_name, "{{if .State.Health}}{{.State.Health.Status}}{{end}}")
        if status in until:
            break
        time.sleep(0.25)
    return status, time.monotonic() - start


def health_checks(container_name: str) -> list[tuple[int, float]]:
    """The container's last healthchecks (Docker keeps five): (exit code, seconds each took)."""
    log = json.loads(inspect(container_name, "{{json .State.Health.Log}}")) or []
    return [(entry["ExitCode"], _seconds(entry["End"]) - _seconds(entry["Start"])) for entry in log]


def _seconds(timestamp: str) -> float:
    """An engine's RFC 3339 time (nanoseconds, any offset) as seconds since the epoch."""
    m = re.fullmatch(r"(.+?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", timestamp)
    assert m, timestamp
    whole = datetime.datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    return whole.timestamp() + float(f"0.{m[2] or 0}")
