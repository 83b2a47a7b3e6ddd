"""The dev server (dev/) end to end on this machine: real processes, real debugpy, and a DAP client
that behaves like VS Code, and like editors that misbehave.

Each test copies dev/ next to a small Flask app in a temp folder and runs ``python -m dev.serve``
there on free 127.0.0.1 ports, in its own process group, stopped at the end (with its debug
adapter, which daemonizes). tests/docker/test_debugger.py runs the editor scenarios against the
dev image too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev import debugger, debugpy_fixes, supervisor
from tools.harness import devlog, editors
from tools.harness.editors import RECOVERY_SECONDS
from tools.harness.net import HttpResponse, free_ports, http, wait_for_http

REPO = Path(__file__).resolve().parents[2]

APP_INIT = """\
from flask import Flask

from app import routes


def create_app():
    app = Flask(__name__)
    app.register_blueprint(routes.bp)
    return app
"""

ROUTES = """\
import time

from flask import Blueprint

bp = Blueprint("main", __name__)
VERSION = {version}


@bp.get("/double/<int:number>")
def double(number):
    doubled = number * 2
    return {{"version": VERSION, "doubled": doubled}}


@bp.get("/version")
def version():
    return {{"version": VERSION}}


@bp.get("/slow")
def slow():
    time.sleep(0.6)
    return {{"version": VERSION}}
"""
BREAKPOINT_LINE = 12  # return {"version": VERSION, "doubled": doubled}


class DevServer:
    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.port, self.debugpy_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.routes = root / "app" / "routes.py"
        self.log_path = root / "server.log"
        self.version = 0
        # What editors.DebugTarget asks for: the editor's view of the breakpoint.
        self.breakpoint_file, self.breakpoint_line = self.routes, BREAKPOINT_LINE
        self.path_mappings = [{"localRoot": str(root), "remoteRoot": str(root)}]
        environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        environ.update(PORT=str(self.port), DEBUGPY_PORT=str(self.debugpy_port), **env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dev.serve"],
                cwd=root,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_version(self, version: int, timeout: float = 30) -> float:
        """Seconds until the app answers with ``version``."""
        _, seconds = wait_for_http(
            f"{self.url}/version",
            check=lambda answer: answer.json().get("version") == version,
            timeout=timeout,
            interval=0.02,
        )
        return seconds

    def edit(self, within: float = RECOVERY_SECONDS) -> float:
        """Save a new version of the routes; wait until it is served, at most ``within`` s."""
        self.version += 1
        self.routes.write_text(ROUTES.format(version=self.version))
        return self.wait_version(self.version, timeout=within)

    def request(self, number: int = 21) -> HttpResponse:
        return http("GET", f"{self.url}/double/{number}", timeout=30)

    def kill_adapter(self) -> None:
        os.kill(self.adapter(), signal.SIGKILL)

    def adapter(self) -> int:
        pid = debugpy_fixes.adapter_pid(self.debugpy_port)
        assert pid is not None, self.log()
        return pid

    def children(self, state: str | None = None) -> list[int]:
        """The dev server's child processes (in ``state``, e.g. "Z" for zombies)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[1]) == self.process.pid and state in (None, fields[0]):
                    found.append(int(stat.parent.name))
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> float:
        """SIGTERM the dev server (as `docker stop` does); return how long it took."""
        adapter = debugpy_fixes.adapter_pid(self.debugpy_port)
        started = time.monotonic()
        try:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        finally:
            elapsed = time.monotonic() - started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            if adapter is not None:  # it daemonized into a session of its own
                with contextlib.suppress(ProcessLookupError):
                    os.kill(adapter, signal.SIGKILL)
            self.process.wait(timeout=5)
        return elapsed

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "dev", tmp_path / "dev", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "setting.py", tmp_path)  # dev/ reads its settings through it
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text(APP_INIT)
    (tmp_path / "app" / "routes.py").write_text(ROUTES.format(version=0))
    return tmp_path


@pytest.fixture
def start_server(project: Path) -> Iterator:
    servers: list[DevServer] = []

    def start(**env: str) -> DevServer:
        server = DevServer(project, **env)
        servers.append(server)
        server.wait_version(0)
        return server

    yield start
    for server in servers:
        server.stop()


# -- the happy path -------------------------------------------------------------------------------


@pytest.mark.parametrize("start_debugging", [True, False], ids=["startDebugging", "debugpyAttach"])
def test_breakpoint_hits_in_each_reloaded_child(start_server, start_debugging: bool) -> None:
    server = start_server()
    with editors.session(server, start_debugging=start_debugging) as session:
        first = editors.hit(server, session)
        assert first.variables["doubled"] == "42", first.variables
        assert first.result.json() == {"version": 0, "doubled": 42}

        server.edit()
        second = editors.hit(server, session)
        assert second.result.json() == {"version": 1, "doubled": 42}

        announced = [pid for _, pid in session.child_announcements]
        assert len(set(announced)) >= 2, announced
        expected = "startDebugging" if start_debugging else "debugpyAttach"
        assert {how for how, _ in session.child_announcements} == {expected}
        assert not session.errors, session.errors

    assert server.stop() < 1.0
    assert not server.group_alive()
    log = server.log()
    assert "frozen modules" not in log, log
    assert "debugpy on 0.0.0.0:" in log, log


def test_reload_survives_a_broken_app_without_debugpy(start_server) -> None:
    server = start_server(DEBUGPY="0")
    server.routes.write_text(ROUTES.format(version="("))  # a SyntaxError: logged, JSON 500
    answer, _ = wait_for_http(f"{server.url}/version", expect=500, timeout=15)
    assert answer.json()["error"]["status"] == 500, answer.body
    assert "SyntaxError" in answer.json()["error"]["detail"], answer.body

    server.edit()
    assert server.stop() < 1.0
    assert not server.group_alive()
    assert "debugpy off" in server.log()


# -- editors that misbehave -----------------------------------------------------------------------


def test_port_checks_on_the_debugger_port_do_not_wedge_it(start_server) -> None:
    server = start_server()
    editors.port_checks(server)
    editors.assert_undisturbed(server)


def test_a_killed_debug_adapter_is_replaced_and_reaped(start_server) -> None:
    server = start_server()
    adapters = [server.adapter()]
    for _ in range(2):
        seconds = editors.adapter_killed(server)
        print(f"a breakpoint hit {seconds:.2f} s after the debug adapter was killed")
        adapters.append(server.adapter())
    assert len(set(adapters)) == 3, adapters
    assert server.process.poll() is None, "the dev server itself must stay (restart in place)"
    assert server.log().count(devlog.RESTARTED) == 2, server.log()
    assert server.children("Z") == [], "zombies left behind"


@pytest.mark.parametrize("how", ["disconnect-and-close", "close", "half-message"])
def test_an_editor_that_leaves_disturbs_nothing(start_server, how: str) -> None:
    server = start_server()
    editors.editor_leaves(server, how)
    editors.assert_undisturbed(server)


def test_an_editor_that_crashes_mid_attach_disturbs_nothing(start_server) -> None:
    server = start_server()
    editors.crash_mid_attach(server)
    editors.assert_undisturbed(server)


@pytest.mark.parametrize("how", ["close", "disconnect-and-close"])
def test_an_editor_that_vanishes_at_a_breakpoint(start_server, how: str) -> None:
    server = start_server()
    editors.editor_vanishes_at_a_breakpoint(server, how)
    editors.assert_undisturbed(server)


@pytest.mark.parametrize("how", ["close", "disconnect-and-close"])
def test_an_editor_that_leaves_before_claiming_an_app_process(start_server, how: str) -> None:
    server = start_server()
    seconds = editors.editor_leaves_before_claiming(
        server, how, 1 + supervisor.STANDBYS, debugger.CLAIM_TIMEOUT
    )
    print(f"the next edit was served {seconds:.2f} s after the save")
    editors.assert_undisturbed(server)


def test_an_attach_to_an_app_process_that_has_gone_is_given_up_at_once(start_server) -> None:
    server = start_server()
    seconds = editors.attach_to_a_gone_app_process(server)
    assert seconds < 1, f"waited {seconds:.2f} s for an app process that had gone"
    editors.assert_undisturbed(server)


def test_a_client_that_does_not_follow_children_does_not_stop_the_app(start_server) -> None:
    server = start_server()
    seconds = editors.client_ignores_children(server)
    print(f"edits served after {seconds} s, with a client that does not follow app processes")
    editors.assert_undisturbed(server)


def test_attach_detach_edit_cycles(start_server) -> None:
    server = start_server()
    editors.attach_detach_cycles(server)
    editors.assert_undisturbed(server)


def test_an_editor_that_reconnects_at_once(start_server) -> None:
    editors.reconnects_at_once(start_server())


def test_a_wedged_adapter_is_noticed_and_killed(tmp_path) -> None:
    """What the dev server does if an adapter stops accepting for a reason the guard in
    dev/debugpy_fixes.py does not cover: a stand-in listener that never accepts."""
    (port,) = free_ports(1)
    wedged = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); "
            "print('listening', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert wedged.stdout.readline().strip() == "listening"
        watch = debugger.Debugger(port, tmp_path)
        watch.adapter_pid = wedged.pid
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # stays queued
        assert watch.lost() is None  # waiting connections alone are fine for a moment
        time.sleep(debugger.WEDGED_AFTER + 0.2)
        assert watch.lost() == "the debug adapter stopped accepting connections"
        assert wedged.wait(timeout=5) == -signal.SIGKILL
        assert watch.lost() == "the debug adapter exited"
    finally:
        wedged.kill()
        wedged.wait()


# -- the processes --------------------------------------------------------------------------------


def test_requests_in_progress_finish_across_a_reload(start_server) -> None:
    server = start_server(DEBUGPY="0")
    answers = []
    slow = threading.Thread(target=lambda: answers.append(http("GET", f"{server.url}/slow")))
    slow.start()
    time.sleep(0.2)
    server.edit()
    slow.join(timeout=10)
    assert [a.status for a in answers] == [200], answers
    assert answers[0].json() == {"version": 0}  # served by the old process, to the end


@pytest.mark.parametrize("poll", ["0", "1"], ids=["inotify", "polling"])
def test_a_save_while_the_app_is_importing_is_not_lost(start_server, poll: str) -> None:
    """An editor that truncates, then writes (or saves twice in quick succession): the second
    write lands while the next app process imports the first. That process must notice it."""
    server = start_server(DEBUGPY="0", RELOAD_POLL=poll)
    importing = server.root / "importing.flag"  # not a watched name
    slow_import = f"\nopen({str(importing)!r}, 'w').close()\ntime.sleep(1.5)\n"
    server.routes.write_text(ROUTES.format(version=1) + slow_import)
    deadline = time.monotonic() + 10
    while not importing.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert importing.exists(), server.log()
    server.routes.write_text(ROUTES.format(version=2))  # while version 1 imports
    server.wait_version(2, timeout=RECOVERY_SECONDS + 1.5)


def test_a_save_right_after_another_finds_a_standby_ready(start_server) -> None:
    """A formatter's rewrite, or a fix right after a broken save, ends the app process that is
    still loading the save before: the next standby takes over, ready, instead of an app
    process that imports its libraries first (the log would say so)."""
    server = start_server(DEBUGPY="0")

    def standbys_ready() -> None:
        # The serving app process and its standbys, the ones that left gone; then the last
        # standby preloads (Flask). Waited for, not slept: CI's 2 cores are shared.
        deadline = time.monotonic() + 20
        while len(server.children()) != 1 + supervisor.STANDBYS and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)

    standbys_ready()
    server.routes.write_text(ROUTES.format(version=1))
    time.sleep(0.1)  # the formatter's save, while version 1 loads
    server.routes.write_text(ROUTES.format(version=2))
    server.wait_version(2)
    standbys_ready()
    server.routes.write_text(ROUTES.format(version=3).replace("bp = Blueprint(", "bp = ((", 1))
    time.sleep(0.2)  # and its fix
    server.routes.write_text(ROUTES.format(version=3))
    server.wait_version(3)
    assert supervisor.UNPREPARED not in server.log(), server.log()


def test_an_orphaned_app_process_exits(start_server) -> None:
    server = start_server(DEBUGPY="0")
    deadline = time.monotonic() + 10
    while len(server.children()) < 1 + supervisor.STANDBYS and time.monotonic() < deadline:
        time.sleep(0.1)  # the standbys start one after the other
    app_processes = server.children()
    assert len(app_processes) == 1 + supervisor.STANDBYS, (
        app_processes
    )  # the one serving, the standbys
    os.kill(server.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(map(debugger.alive, app_processes)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(debugger.alive, app_processes)), "app processes outlived the dev server"


def test_a_crashed_app_process_says_so_until_an_edit(start_server) -> None:
    server = start_server(DEBUGPY="0")
    server.routes.write_text("import os\n\nos._exit(7)\n")
    answer, _ = wait_for_http(f"{server.url}/version", expect=500, timeout=15)
    detail = answer.json()["error"]["detail"]
    assert detail == "the app process exited with 7; save a file to restart it", answer.body
    assert "app process exited with 7; waiting for a file change" in server.log(), server.log()
    server.edit()
    assert server.process.poll() is None


def test_a_setting_with_a_typo_stops_the_server_with_one_line(project) -> None:
    server = DevServer(project, DEBUGPY="ture")
    try:
        assert server.process.wait(timeout=5) == 2
    finally:
        server.stop()
    lines = server.log().strip().splitlines()
    expected = "dev server: DEBUGPY='ture' is not a flag: use 1 or 0 (true/false, yes/no, on/off)"
    assert lines == [expected]
