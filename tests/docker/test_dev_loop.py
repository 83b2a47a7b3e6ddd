"""The dev loop on the real engine, through docker-compose.dev.yml (issue #3).

Each stack runs a throwaway copy of the project (the host side of the bind mount, which the
tests edit) under its own compose project name, image tag (BERTH_DEV_IMAGE) and free ports on
127.0.0.1, brought up with `up -d --build --wait` and removed afterwards with its volume and
image, whatever the outcome.

* ``stack``: the default settings (watchdog reloader, debugpy on), built with the invoking
  user's ids like `make` does (UID/GID; as root that is 0, and the app user is uid 0).
* ``poll_stack``: RELOAD_POLL=1, built with UID/GID 4321 on a copy owned by 4321 (a developer
  whose ids are not the image defaults): it shows the polling reloader and that ids are
  really taken from the build arguments, which a root run alone could not show.

Against them: a host edit is served within seconds (both reloaders); a DAP client on the
published debugpy port stops at a breakpoint in the reloader's child, before and after a
reload; `compose run --rm web pytest | ruff` pass and fail when they should; files written in
the container belong to the build's ids; the ports are published on 127.0.0.1 only; the
healthcheck reports healthy; `compose down` is quick because the dev server handles SIGTERM.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.containers import (
    chown_tree,
    copy_project,
    describe,
    docker,
    free_ports,
    http,
    inspect,
    unique,
    wait_for_http,
)
from tests.support.dap import DebugSession

COMPOSE_FILE = "docker-compose.dev.yml"
SERVICE = "web"
OTHER_UID = OTHER_GID = 4321
# How long a saved file may take to be served (the dev server's docstring says ~0.35 s).
RELOAD_TIMEOUT = 15
# What the tests edit: the first line of GET /'s text; where they break: in GET /api/notes/<id>.
LANDING_TEXT = "berth: a small JSON notes service"
BREAKPOINT_STATEMENT = "note = fetch_note(get_db(), note_id)"
# Settings the compose file interpolates that a developer's shell may hold: the tests decide.
SHELL_SETTINGS = (
    "UID",
    "GID",
    "APP_PORT",
    "DEBUGPY_PORT",
    "DEBUGPY",
    "DEBUGPY_WAIT",
    "RELOAD_POLL",
    "FLASK_DEBUG",
    "LOG_LEVEL",
    "MAX_BODY_BYTES",
    "PYTHON_VERSION",
    "BERTH_DEV_IMAGE",
)


@dataclass
class Stack:
    workspace: Path  # the host copy, bind-mounted at /app
    project: str
    tag: str
    env: dict[str, str]
    app_port: int
    debugpy_port: int
    uid: int
    gid: int
    up_seconds: float

    def compose(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """`docker compose -f docker-compose.dev.yml -p <project> ...` in the copy."""
        return subprocess.run(
            ["docker", "compose", "-f", COMPOSE_FILE, "-p", self.project, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workspace,
            env=self.env,
            check=False,
        )

    def container(self) -> str:
        result = self.compose("ps", "-q", SERVICE, timeout=60)
        ids = result.stdout.split()
        assert result.returncode == 0, describe(result)
        assert len(ids) == 1, describe(result)
        return ids[0]

    def logs(self) -> str:
        result = self.compose("logs", "--no-color", SERVICE, timeout=60)
        return result.stdout + result.stderr

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"


def _hand_over(root: Path, uid: int, gid: int) -> None:
    """Let the container user (uid:gid) write in the copy, as in a developer's own checkout.

    As root: give it the tree. Otherwise chown is not ours to do, so open the top folder (the
    only place the tests make the container write) to everyone; our own files stay ours.
    """
    if os.geteuid() != 0:
        root.chmod(0o777)
        return
    chown_tree(root, uid, gid)


def _down(stack: Stack) -> subprocess.CompletedProcess[str]:
    return stack.compose("down", "-v", "--remove-orphans", "-t", "3", timeout=120)


def _start_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, uid: int, gid: int, **settings: str
) -> Iterator[Stack]:
    workspace = copy_project(tmp_path_factory.mktemp(name) / "berth")
    if (uid, gid) != (os.getuid(), os.getgid()):
        # A checkout belongs to its developer: the container user must be able to write in it.
        _hand_over(workspace, uid, gid)
    app_port, debugpy_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if k not in SHELL_SETTINGS}
    env = {k: v for k, v in env.items() if not k.startswith("COMPOSE_")}
    env.update(
        UID=str(uid),
        GID=str(gid),
        BERTH_DEV_IMAGE=unique("berth-test:devloop"),
        APP_PORT=str(app_port),
        DEBUGPY_PORT=str(debugpy_port),
        **settings,
    )
    stack = Stack(
        workspace=workspace,
        project=unique("berth-devloop"),
        tag=env["BERTH_DEV_IMAGE"],
        env=env,
        app_port=app_port,
        debugpy_port=debugpy_port,
        uid=uid,
        gid=gid,
        up_seconds=0.0,
    )
    try:
        start = time.monotonic()
        result = stack.compose(
            "up", "-d", "--build", "--wait", "--wait-timeout", "120", timeout=900
        )
        stack.up_seconds = time.monotonic() - start
        assert result.returncode == 0, f"{describe(result)}\n--- logs\n{stack.logs()[-4000:]}"
        yield stack
    finally:
        _down(stack)
        docker("image", "rm", "-f", stack.tag, check=False)
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory) -> Iterator[Stack]:
    """The default stack, built with the invoking user's ids (as `make up` does)."""
    yield from _start_stack(tmp_path_factory, "devloop", os.getuid(), os.getgid())


@pytest.fixture(scope="module")
def poll_stack(docker_engine, tmp_path_factory) -> Iterator[Stack]:
    """RELOAD_POLL=1, and ids that are neither root's nor the image's defaults."""
    yield from _start_stack(tmp_path_factory, "devloop-poll", OTHER_UID, OTHER_GID, RELOAD_POLL="1")


def _edit_landing_page(workspace: Path) -> str:
    """Put a unique marker into GET /'s text in the host copy; return the new first line."""
    health = workspace / "app" / "health.py"
    source = health.read_text()
    marker = f"berth: edited on the host {uuid.uuid4().hex[:10]}"
    # The line reads LANDING_TEXT first, then the previous tests' markers: replace either.
    edited = re.sub(r"^berth: .*$", marker, source, count=1, flags=re.MULTILINE)
    assert edited != source, f"app/health.py no longer has the landing text {LANDING_TEXT!r}"
    health.write_text(edited)
    return marker


def _assert_reloads(stack: Stack, label: str) -> float:
    wait_for_http(stack.url + "/", timeout=30)
    marker = _edit_landing_page(stack.workspace)
    answer, seconds = wait_for_http(
        stack.url + "/", body_contains=marker.encode(), timeout=RELOAD_TIMEOUT, interval=0.05
    )
    print(f"reload ({label}): {seconds:.2f} s from the host write to the new response")
    assert answer.body.startswith(marker.encode())
    return seconds


def _compose_run(stack: Stack, *command: str, timeout: float = 300):
    return stack.compose("run", "--rm", "--no-deps", SERVICE, *command, timeout=timeout)


# -- the stack as it comes up ---------------------------------------------------------------------


def test_healthcheck_reports_healthy(stack):
    print(f"up --build --wait: {stack.up_seconds:.1f} s")
    container = stack.container()
    assert inspect(container, "{{.State.Health.Status}}") == "healthy"
    # The compose healthcheck, not only the image's: same command, the compose timings.
    health = json.loads(inspect(container, "{{json .Config.Healthcheck}}"))
    assert health["Test"] == ["CMD", "healthcheck"], health
    assert http("GET", stack.url + "/healthz").json() == {"status": "ok"}


def test_ports_are_published_on_loopback_only(stack):
    container = stack.container()
    published = json.loads(inspect(container, "{{json .NetworkSettings.Ports}}"))
    requested = json.loads(inspect(container, "{{json .HostConfig.PortBindings}}"))
    expected = {"8000/tcp": stack.app_port, "5678/tcp": stack.debugpy_port}
    for bindings in (published, requested):
        bound = {port: b for port, b in bindings.items() if b}
        assert set(bound) == set(expected), bindings
        for port, host_port in expected.items():
            # One binding each, on 127.0.0.1: no 0.0.0.0, no [::], no empty HostIp (= all).
            assert [(b["HostIp"], int(b["HostPort"])) for b in bound[port]] == [
                ("127.0.0.1", host_port)
            ], bindings
    for container_port, host_port in ((8000, stack.app_port), (5678, stack.debugpy_port)):
        result = stack.compose("port", SERVICE, str(container_port), timeout=60)
        assert result.returncode == 0, describe(result)
        assert result.stdout.split() == [f"127.0.0.1:{host_port}"], describe(result)


# -- reload ---------------------------------------------------------------------------------------


def test_host_edit_is_served_after_a_reload(stack):
    assert "reloader watchdog" in stack.logs()
    _assert_reloads(stack, "watchdog")
    # Twice: the first new child must be watching too.
    _assert_reloads(stack, "watchdog, again")


def test_host_edit_is_served_after_a_reload_with_polling(poll_stack):
    assert "reloader stat" in poll_stack.logs(), "RELOAD_POLL=1 did not pick the stat reloader"
    _assert_reloads(poll_stack, "RELOAD_POLL=1")
    _assert_reloads(poll_stack, "RELOAD_POLL=1, again")


# -- debugger -------------------------------------------------------------------------------------


def _hit_breakpoint(session: DebugSession, stack: Stack, note_id: int, notes: Path, line: int):
    """GET the note; stop at the breakpoint, read locals and the PID, continue."""
    hit = session.break_during(
        lambda: http("GET", f"{stack.url}/api/notes/{note_id}", timeout=60),
        evaluate=["__import__('os').getpid()"],
        timeout=30,
    )
    assert hit.frame["line"] == line, hit.frame
    assert Path(hit.frame["source"]["path"]) == notes, hit.frame  # mapped back to the host copy
    assert not hit.returned_while_stopped, "the request finished while stopped at the breakpoint"
    return hit.variables, int(hit.evaluated["__import__('os').getpid()"]), hit.result


def test_breakpoint_hits_in_the_child_before_and_after_a_reload(stack):
    notes = stack.workspace / "app" / "notes.py"
    lines = [
        n
        for n, text in enumerate(notes.read_text().splitlines(), 1)
        if BREAKPOINT_STATEMENT in text
    ]
    assert len(lines) == 1, f"app/notes.py: expected one {BREAKPOINT_STATEMENT!r}, got {lines}"
    line = lines[0]
    wait_for_http(stack.url + "/healthz", timeout=30)
    created = http("POST", stack.url + "/api/notes", {"title": "stop here", "body": "dap"})
    assert created.status == 201, created.body
    note_id = created.json()["id"]

    with DebugSession(
        "127.0.0.1",
        stack.debugpy_port,
        {str(notes): [line]},
        # What an editor on the host uses: its folder is the container's /app.
        path_mappings=[{"localRoot": str(stack.workspace), "remoteRoot": "/app"}],
        timeout=20,
    ) as session:
        first = session.wait_child(timeout=30)
        assert any(bp.get("verified") for bp in session.verified[first]), session.verified

        local_vars, first_pid, answer = _hit_breakpoint(session, stack, note_id, notes, line)
        assert local_vars["note_id"] == str(note_id), local_vars
        assert answer.status == 200, answer.body
        assert answer.json()["title"] == "stop here"

        # A host edit, served with the debugger attached: the new child is followed at once.
        marker = _edit_landing_page(stack.workspace)
        _, seconds = wait_for_http(
            stack.url + "/", body_contains=marker.encode(), timeout=RELOAD_TIMEOUT, interval=0.05
        )
        print(f"reload (watchdog, debugger attached): {seconds:.2f} s")
        second = session.wait_child(timeout=30)
        assert second != first, session.child_announcements

        local_vars, second_pid, answer = _hit_breakpoint(session, stack, note_id, notes, line)
        assert second_pid != first_pid, "the breakpoint hit in the old child, not the new one"
        assert local_vars["note_id"] == str(note_id), local_vars
        assert answer.status == 200, answer.body
        assert not session.errors, session.errors


# -- tools in the container -----------------------------------------------------------------------


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def test_pytest_in_the_container_passes_and_catches_a_failure(stack):
    result = _compose_run(stack, "pytest")
    assert result.returncode == 0, describe(result)
    summary = _summary(result)
    passed = re.search(r"(\d+) passed", summary)
    assert passed, summary
    assert int(passed[1]) > 0, summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary
    # The container tests are deselected in the container (PYTEST_ADDOPTS), not run or failed.
    assert "deselected" in summary, summary

    failing = stack.workspace / "tests" / "unit" / f"test_zz_fails_{uuid.uuid4().hex[:8]}.py"
    failing.write_text("def test_fails_on_purpose():\n    assert 1 + 1 == 3\n")
    try:
        result = _compose_run(stack, "pytest")
    finally:
        failing.unlink()
    assert result.returncode == 1, describe(result)
    assert "1 failed" in _summary(result), describe(result)
    assert "test_fails_on_purpose" in result.stdout, describe(result)


def test_ruff_in_the_container_passes_and_catches_a_bad_file(stack):
    for command in (("ruff", "check"), ("ruff", "format", "--check")):
        result = _compose_run(stack, *command, timeout=120)
        assert result.returncode == 0, describe(result)

    bad = stack.workspace / "tests" / "unit" / f"bad_lint_{uuid.uuid4().hex[:8]}.py"
    bad.write_text("import os\nx = {  'a':1 }\n")  # F401, and not ruff-formatted
    try:
        check = _compose_run(stack, "ruff", "check", timeout=120)
        fmt = _compose_run(stack, "ruff", "format", "--check", timeout=120)
    finally:
        bad.unlink()
    assert check.returncode == 1, describe(check)
    assert "F401" in check.stdout, describe(check)
    assert bad.name in check.stdout, describe(check)
    assert fmt.returncode == 1, describe(fmt)
    assert bad.name in fmt.stdout, describe(fmt)


# -- user ids -------------------------------------------------------------------------------------


def _created_in_container(stack: Stack) -> os.stat_result:
    name = f"created-in-container-{uuid.uuid4().hex[:8]}"
    result = _compose_run(stack, "touch", f"/app/{name}", timeout=120)
    assert result.returncode == 0, describe(result)
    path = stack.workspace / name
    try:
        return path.stat()
    finally:
        path.unlink()


def test_files_created_in_the_container_belong_to_the_host_user(stack):
    created = _created_in_container(stack)
    assert (created.st_uid, created.st_gid) == (os.getuid(), os.getgid())


def test_uid_gid_build_args_give_the_container_user_those_ids(poll_stack):
    created = _created_in_container(poll_stack)
    assert (created.st_uid, created.st_gid) == (OTHER_UID, OTHER_GID)

    result = _compose_run(poll_stack, "sh", "-c", "id -u; id -g; id -un", timeout=120)
    assert result.returncode == 0, describe(result)
    assert result.stdout.split()[-3:] == [str(OTHER_UID), str(OTHER_GID), "app"], describe(result)

    # The running dev server (reloader and child) and everything else in the container.
    top = docker("top", poll_stack.container(), "-eo", "pid,uid,gid,args").stdout.splitlines()
    processes = [line.split(None, 3) for line in top[1:] if line.strip()]
    servers = [p for p in processes if "dev.serve" in p[3]]
    assert len(servers) >= 2, top  # the reloader and its serving child
    assert {(int(p[1]), int(p[2])) for p in processes} == {(OTHER_UID, OTHER_GID)}, top


# -- the optional extra CA bundle at run time -----------------------------------------------------

# What the dev entrypoint hands to Python, pip and requests, as the container sees it.
SHOW_CA = (
    'echo "SSL_CERT_FILE=${SSL_CERT_FILE:-unset} PIP_CERT=${PIP_CERT:-unset}"; '
    'pip config list; cat "${SSL_CERT_FILE:-/dev/null}"'
)


def test_extra_ca_bundle_reaches_pip_and_python_in_the_container(stack, marked_ca_bundle):
    bundle, marker = marked_ca_bundle
    with_ca = dataclasses.replace(stack, env={**stack.env, "EXTRA_CA_BUNDLE": str(bundle)})
    shown = _compose_run(with_ca, "sh", "-c", SHOW_CA)
    assert shown.returncode == 0, describe(shown)
    assert "PIP_CERT=unset" not in shown.stdout, shown.stdout[:2000]
    assert re.search(r"cert\s*=\s*'?/", shown.stdout), "pip.conf has no cert for exec shells"
    assert marker in shown.stdout, "the extra CA is not in the bundle Python trusts"
    # And pip really gets through whatever TLS this machine's network does: one small download.
    fetched = _compose_run(
        with_ca,
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "-q",
        "-d",
        "/tmp/dl",
        "iniconfig==2.3.1",
        timeout=180,
    )
    assert fetched.returncode == 0, describe(fetched)


def test_without_an_extra_ca_bundle_nothing_changes(stack):
    without = dataclasses.replace(
        stack, env={k: v for k, v in stack.env.items() if k != "EXTRA_CA_BUNDLE"}
    )
    shown = _compose_run(without, "sh", "-c", SHOW_CA)
    assert shown.returncode == 0, describe(shown)
    assert "SSL_CERT_FILE=unset PIP_CERT=unset" in shown.stdout, shown.stdout[:2000]
    assert not re.search(r"cert\s*=", shown.stdout), "pip.conf names a CA bundle"


# -- stop (last: it takes the stack down) ---------------------------------------------------------


def test_down_is_quick_and_the_log_is_clean(stack):
    log = stack.logs()
    assert "berth dev server: app on http://0.0.0.0:8000" in log, log[-4000:]
    assert "debugpy on 0.0.0.0:5678" in log, log[-4000:]
    assert "frozen modules" not in log, log[-4000:]
    container = stack.container()
    since = docker("system", "info", "--format", "{{json .SystemTime}}").stdout.strip().strip('"')

    start = time.monotonic()
    # -t 10 instead of the compose file's 3 s grace: ignoring SIGTERM would take 10 s.
    result = stack.compose("down", "-t", "10", timeout=60)
    seconds = time.monotonic() - start
    print(f"compose down: {seconds:.2f} s")
    assert result.returncode == 0, describe(result)
    assert seconds < 5, f"compose down took {seconds:.1f} s"
    # Stopped by its own SIGTERM handler (exit 0), not killed (137) after the grace period.
    events = docker(
        "events",
        "--since",
        since,
        "--until",
        docker("system", "info", "--format", "{{json .SystemTime}}").stdout.strip().strip('"'),
        "--filter",
        f"container={container}",
        "--filter",
        "event=die",
        "--format",
        '{{index .Actor.Attributes "exitCode"}}',
        timeout=30,
    ).stdout.split()
    assert events == ["0"], events
