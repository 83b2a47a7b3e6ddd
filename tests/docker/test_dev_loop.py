"""The dev loop on the real engine, through docker-compose.dev.yml, as developers run it.

Each stack runs a throwaway copy of the project (the host side of the bind mount, which the
tests edit) with the plain compose command, free ports on 127.0.0.1, and its own project name,
and is removed afterwards with its volume and image, whatever the outcome.

* ``stack``: the default settings (watchdog reloader, debugpy on), in a copy owned by the
  invoking user (root in CI: the dev user becomes root).
* ``other_user_stack``: RELOAD_POLL=1, in a copy owned by uid/gid 1234 (when run as root; else
  by the invoking user): a developer whose ids are neither root's nor the image's 1000.

Against them: a host edit is served (both reloaders); a DAP client stops at a breakpoint in the
app process before and after a reload; ruff, pytest and git work in the container and fail when
they should; files written in the container belong to the checkout's owner; the ports are on
127.0.0.1 only; healthy; no zombies; `compose down` is quick. And two checkouts side by side.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator

import pytest

from tools.harness import devlog, editors
from tools.harness.commands import describe, unique
from tools.harness.compose import ComposeStack, dev_stack
from tools.harness.docker import docker, inspect, processes
from tools.harness.editors import ServiceTarget
from tools.harness.net import http, wait_for_http
from tools.harness.project import copy_project, edit_landing_page, owned_checkout

OTHER_ID = 1234
# How long a saved file may take to be served (docs/benchmarks.md has the real figures).
RELOAD_TIMEOUT = 15


@pytest.fixture(scope="module")
def stack(docker_engine, tmp_path_factory) -> Iterator[ComposeStack]:
    workspace = owned_checkout(tmp_path_factory.mktemp("devloop") / "berth")
    with dev_stack(workspace, unique("berth-devloop")) as up:
        yield up
    shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def other_user_stack(docker_engine, tmp_path_factory) -> Iterator[ComposeStack]:
    ids = (OTHER_ID, OTHER_ID) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    workspace = owned_checkout(tmp_path_factory.mktemp("devloop-other") / "berth", *ids)
    with dev_stack(workspace, unique("berth-devloop-other"), RELOAD_POLL="1") as up:
        yield up
    shutil.rmtree(workspace, ignore_errors=True)


def _assert_reloads(stack: ComposeStack, label: str) -> float:
    wait_for_http(stack.url + "/", timeout=30)
    marker = edit_landing_page(stack.workspace)
    answer, seconds = wait_for_http(
        stack.url + "/", body_contains=marker.encode(), timeout=RELOAD_TIMEOUT, interval=0.05
    )
    print(f"reload ({label}): {seconds:.2f} s from the host write to the new response")
    assert answer.body.startswith(marker.encode())
    return seconds


@pytest.fixture(scope="module")
def target(stack) -> ServiceTarget:
    return stack.target()


# -- the stack as it comes up ---------------------------------------------------------------------


def test_healthcheck_reports_healthy(stack):
    print(f"up --build --wait: {stack.up_seconds:.1f} s")
    container = stack.container()
    assert inspect(container, "{{.State.Health.Status}}") == "healthy"
    # The image's healthcheck (compose adds none of its own).
    health = json.loads(inspect(container, "{{json .Config.Healthcheck}}"))
    assert health["Test"] == ["CMD", "healthcheck"], health
    assert http("GET", stack.url + "/healthz").json() == {"status": "ok"}


def test_without_the_db_profile_the_app_keeps_sqlite(stack):
    """The compose file names the database service; it is not running, so: SQLite in /data."""
    assert "berth started: database /data/notes.sqlite3" in stack.logs()


def test_ports_are_published_on_loopback_only(stack):
    container = stack.container()
    published = json.loads(inspect(container, "{{json .NetworkSettings.Ports}}"))
    requested = json.loads(inspect(container, "{{json .HostConfig.PortBindings}}"))
    # The metrics' host port is a free one, chosen by Docker (None: any).
    expected = {"8000/tcp": stack.app_port, "5678/tcp": stack.debugpy_port, "9000/tcp": None}
    for bindings in (published, requested):
        bound = {port: b for port, b in bindings.items() if b}
        assert set(bound) == set(expected), bindings
        for port, host_port in expected.items():
            # One binding each, on 127.0.0.1: no 0.0.0.0, no [::], no empty HostIp (= all).
            assert [b["HostIp"] for b in bound[port]] == ["127.0.0.1"], bindings
            if host_port is not None:
                assert [int(b["HostPort"]) for b in bound[port]] == [host_port], bindings
    for container_port, host_port in ((8000, stack.app_port), (5678, stack.debugpy_port)):
        result = stack.compose("port", "web", str(container_port), timeout=60)
        assert result.returncode == 0, describe(result)
        assert result.stdout.split() == [f"127.0.0.1:{host_port}"], describe(result)


def test_metrics_are_served_apart_and_count_afresh_after_a_reload(stack):
    """The prod metrics in dev (dev/metrics.py): on their own port, counted by the one app
    process; the next one after a reload binds the port again and starts from zero."""
    result = stack.compose("port", "web", "9000", timeout=60)
    assert result.returncode == 0, describe(result)
    metrics = f"http://{result.stdout.strip()}/metrics"
    counted = b'berth_http_requests_total{method="GET",route="/api/notes",status="200"} 3.0'
    for _ in range(3):
        assert http("GET", stack.url + "/api/notes").status == 200
    assert counted in wait_for_http(metrics, body_contains=counted, timeout=10)[0].body
    assert http("GET", stack.url + "/metrics").status == 404
    _assert_reloads(stack, "metrics")
    answer, _ = wait_for_http(metrics, body_contains=b"berth_build_info", timeout=RELOAD_TIMEOUT)
    assert b'route="/api/notes"' not in answer.body


# -- reload and the debugger ----------------------------------------------------------------------


def test_host_edit_is_served_after_a_reload(stack):
    assert "reloader watchdog" in stack.logs()
    _assert_reloads(stack, "watchdog")
    _assert_reloads(stack, "watchdog, again")  # the first new app process watches too


def test_a_reload_imports_the_app_and_no_library(stack):
    """The standby preloaded what the last app process imported: after the go signal, only the
    app's own modules are imported (SQLAlchemy, Alembic and Flask are not imported again)."""
    for label in ("learn", "preloaded"):
        time.sleep(2)  # the standby starts once the new app process has loaded, then preloads
        _assert_reloads(stack, label)
    last = devlog.loads(stack.logs())[-1]
    print(f"the last reload imported {last.modules} modules after the go signal: {last}")
    assert last.libraries == 0, last
    assert 0 < last.modules < 40, last  # the app package (about ten modules), nothing big


def test_host_edit_is_served_after_a_reload_with_polling(other_user_stack):
    assert "reloader stat" in other_user_stack.logs(), "RELOAD_POLL=1 did not pick polling"
    _assert_reloads(other_user_stack, "RELOAD_POLL=1")
    _assert_reloads(other_user_stack, "RELOAD_POLL=1, again")


def test_breakpoint_hits_in_the_app_process_before_and_after_a_reload(target):
    pid = "__import__('os').getpid()"
    with editors.session(target) as session:
        first = editors.hit(target, session, evaluate=[pid])
        seconds = target.edit(within=RELOAD_TIMEOUT)
        print(f"reload (watchdog, debugger attached): {seconds:.2f} s")
        second = editors.hit(target, session, evaluate=[pid])
        assert not session.errors, session.errors
    assert first.evaluated[pid] != second.evaluated[pid], "the hit was in the old app process"
    assert first.variables["note_id"] == str(target.note_id), first.variables
    assert second.result.json()["title"] == "stop here"


# -- tools in the container, for any owner of the checkout ----------------------------------------


def _summary(result) -> str:
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def test_pytest_in_the_container_passes_and_catches_a_failure(stack):
    result = stack.run("pytest")
    assert result.returncode == 0, describe(result)
    summary = _summary(result)
    passed = re.search(r"(\d+) passed", summary)
    assert passed, summary
    assert int(passed[1]) > 0, summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary
    # The container and integration tests are deselected in the container, not run or failed.
    assert "deselected" in summary, summary

    failing = stack.workspace / "tests" / "unit" / f"test_zz_fails_{uuid.uuid4().hex[:8]}.py"
    failing.write_text("def test_fails_on_purpose():\n    assert 1 + 1 == 3\n")
    try:
        result = stack.run("pytest")
    finally:
        failing.unlink()
    assert result.returncode == 1, describe(result)
    assert "1 failed" in _summary(result), describe(result)
    assert "test_fails_on_purpose" in result.stdout, describe(result)


def test_ruff_in_the_container_passes_and_catches_a_bad_file(stack):
    for command in (("ruff", "check"), ("ruff", "format", "--check")):
        result = stack.run(*command, timeout=120)
        assert result.returncode == 0, describe(result)

    bad = stack.workspace / "tests" / "unit" / f"bad_lint_{uuid.uuid4().hex[:8]}.py"
    bad.write_text("import os\nx = {  'a':1 }\n")  # F401, and not ruff-formatted
    try:
        check = stack.run("ruff", "check", timeout=120)
        fmt = stack.run("ruff", "format", "--check", timeout=120)
    finally:
        bad.unlink()
    assert check.returncode == 1, describe(check)
    assert "F401" in check.stdout, describe(check)
    assert bad.name in check.stdout, describe(check)
    assert fmt.returncode == 1, describe(fmt)
    assert bad.name in fmt.stdout, describe(fmt)


@pytest.mark.parametrize("which", ["stack", "other_user_stack"])
def test_the_checkout_owner_can_work_in_the_container(which, request):
    """ruff (with its cache), pytest (with its cache), git (no "dubious ownership"), and what
    the container writes into the checkout belongs to the checkout's owner."""
    stack: ComposeStack = request.getfixturevalue(which)
    owner = stack.workspace.stat()
    name = f"created-in-container-{uuid.uuid4().hex[:8]}"
    # The venv too (pip install by hand, the dev server's sync of new pins): a file in it is
    # changed and one added, with no chown of the venv at start.
    venv = "sp=$(python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))'); "
    venv += 'touch "$sp/flask/py.typed" "$sp/berth-probe"; rm "$sp/berth-probe"; '
    script = (
        f"set -e; {venv}ruff check .; ruff format --check .; pytest -q -p no:randomly; "
        f"git status --short >/dev/null; touch {name}; id -u; id -g; stat -c '%u %g' /app"
    )
    for how in (stack.exec, stack.run):  # in the running container, and in a fresh one
        result = how("sh", "-c", script, timeout=300)
        assert result.returncode == 0, describe(result)
        assert "warning" not in result.stdout.lower(), describe(result)  # e.g. cache not writable
        # The user is the checkout's owner as the container sees it (under a rootless engine
        # the ids inside are not the host's: the host user is root there)...
        ids, owner_inside = result.stdout.split()[-4:-2], result.stdout.split()[-2:]
        assert ids == owner_inside, describe(result)
        # ...and on the host, what it wrote belongs to the checkout's owner.
        created = (stack.workspace / name).stat()
        assert (created.st_uid, created.st_gid) == (owner.st_uid, owner.st_gid)
        (stack.workspace / name).unlink()


def test_every_process_runs_as_the_checkout_owner(other_user_stack):
    container = other_user_stack.container()
    # The owner as the container sees it: the same ids as on the host, but under a rootless
    # engine, where the host user is root in the container.
    owner = other_user_stack.exec("stat", "-c", "%u %g", "/app")
    assert owner.returncode == 0, describe(owner)
    owner_ids = tuple(map(int, owner.stdout.split()))
    running = processes(container)
    servers = [p for p in running if "dev.serve" in p.args]
    assert len(servers) >= 2, running  # the dev server and its app process
    not_init = [p for p in running if "docker-init" not in p.args]
    assert {(p.uid, p.gid) for p in not_init} == {owner_ids}, running


# -- the optional extra CA bundle at run time -----------------------------------------------------

# What the dev entrypoint hands to Python, pip and requests, as the container sees it.
SHOW_CA = (
    'echo "SSL_CERT_FILE=${SSL_CERT_FILE:-unset} PIP_CERT=${PIP_CERT:-unset}"; '
    'pip config list; cat "${SSL_CERT_FILE:-/dev/null}"'
)


def _with_env(stack: ComposeStack, **changes: str | None) -> ComposeStack:
    env = {k: v for k, v in stack.env.items() if k not in changes}
    env.update({k: v for k, v in changes.items() if v is not None})
    return ComposeStack(stack.workspace, stack.project, env, stack.app_port, stack.debugpy_port)


def test_extra_ca_bundle_reaches_pip_and_python_in_the_container(stack, marked_ca_bundle):
    bundle, marker = marked_ca_bundle
    with_ca = _with_env(stack, EXTRA_CA_BUNDLE=str(bundle))
    shown = with_ca.run("sh", "-c", SHOW_CA)
    assert shown.returncode == 0, describe(shown)
    assert "PIP_CERT=unset" not in shown.stdout, shown.stdout[:2000]
    assert re.search(r"cert\s*=\s*'?/", shown.stdout), "pip.conf has no cert for exec shells"
    assert marker in shown.stdout, "the extra CA is not in the bundle Python trusts"
    # And pip really gets through whatever TLS this machine's network does: one small download.
    fetched = with_ca.run(
        "pip", "download", "--no-deps", "--no-cache-dir", "-q", "-d", "/tmp/dl", "iniconfig==2.3.1"
    )
    assert fetched.returncode == 0, describe(fetched)


def test_without_an_extra_ca_bundle_nothing_changes(stack):
    shown = _with_env(stack, EXTRA_CA_BUNDLE=None).run("sh", "-c", SHOW_CA)
    assert shown.returncode == 0, describe(shown)
    assert "SSL_CERT_FILE=unset PIP_CERT=unset" in shown.stdout, shown.stdout[:2000]
    assert not re.search(r"cert\s*=", shown.stdout), "pip.conf names a CA bundle"


# -- two checkouts side by side -------------------------------------------------------------------


def test_two_checkouts_are_two_stacks(docker_engine, tmp_path):
    """A second clone (or a git worktree) beside the first, both up at once with the plain
    command: each serves its own code and keeps its own notes; `down -v` in one leaves the other."""
    folders = [copy_project(tmp_path / unique(f"berth-{side}")) for side in ("a", "b")]
    with dev_stack(folders[0], None) as first, dev_stack(folders[1], None) as second:
        names = {
            inspect(s.container(), '{{index .Config.Labels "com.docker.compose.project"}}')
            for s in (first, second)
        }
        assert len(names) == 2, names
        markers = [edit_landing_page(s.workspace) for s in (first, second)]
        for s, marker in zip((first, second), markers, strict=True):
            wait_for_http(s.url + "/", body_contains=marker.encode(), timeout=RELOAD_TIMEOUT)
        kept = http("POST", second.url + "/api/notes", {"title": "second's note"})
        assert kept.status == 201, kept.body
        assert http("GET", first.url + "/api/notes").json() == []
        result = first.down()
        assert result.returncode == 0, describe(result)
        notes = http("GET", second.url + "/api/notes").json()
        assert [n["title"] for n in notes] == ["second's note"]


# -- stop (last: it takes the stack down) ---------------------------------------------------------


def test_no_zombies_and_down_is_quick_and_the_log_is_clean(stack, target):
    editors.adapter_killed(target)  # a restart in place, to leave zombies behind if it could
    states = stack.exec("ps", "-eo", "stat=,args=").stdout.splitlines()
    assert not [s for s in states if s.startswith("Z")], states
    log = stack.logs()
    assert "berth dev server: app on http://0.0.0.0:8000" in log, log[-4000:]
    assert "debugpy on 0.0.0.0:5678" in log, log[-4000:]
    assert "frozen modules" not in log, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
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
    until = docker("system", "info", "--format", "{{json .SystemTime}}").stdout.strip().strip('"')
    events = docker(
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        f"container={container}",
        "--filter",
        "event=die",
        "--format",
        '{{index .Actor.Attributes "exitCode"}}',
        timeout=30,
    ).stdout.split()
    assert events == ["0"], events


def test_every_setting_the_code_reads_reaches_the_dev_container_from_env(stack):
    """What a developer puts in .env reaches the app and the dev server (compose's env_file),
    except the two container ports, which compose fixes (APP_PORT and DEBUGPY_PORT move the
    host side), and MARIADB_PASSWORD_FILE, which in .env names the file on the host that compose
    makes the password secret from, and in the container where that secret is."""
    from app.config import ENV_SETTINGS
    from dev.settings import SETTINGS

    fixed = {"PORT": "8000", "DEBUGPY_PORT": "5678"}
    elsewhere = {"MARIADB_PASSWORD_FILE"}
    names = {*ENV_SETTINGS, *SETTINGS} - set(fixed) - elsewhere
    wanted = {name: f"from-env-{name.lower()}" for name in names}
    dotenv = stack.workspace / ".env"
    dotenv.write_text("".join(f"{name}={value}\n" for name, value in {**wanted, **fixed}.items()))
    try:
        result = stack.run("env")
    finally:
        dotenv.unlink()
    assert result.returncode == 0, describe(result)
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert {name: seen.get(name) for name in wanted} == wanted
    assert {name: seen.get(name) for name in fixed} == fixed
