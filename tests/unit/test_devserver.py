"""dev/serve.py end to end on the host: Werkzeug reloader + debugpy, driven like VS Code.

Each test copies dev/ next to a throwaway Flask app in a temp folder and runs
``python -m dev.serve`` there on free 127.0.0.1 ports, in its own process group (killed at the
end). ``test_breakpoint_hits_in_each_reloaded_child`` is also the reference for the container
test: attach with ``tests.support.dap.DebugSession`` (pathMappings local == remote here), set a
breakpoint in a route, request it, see it stop with the right locals, continue, edit the file,
wait for the reload, and see the same breakpoint hit in the new child.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPException
from pathlib import Path

import pytest

from tests.support.containers import free_ports
from tests.support.dap import DebugSession

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
"""
BREAKPOINT_LINE = 10  # return {"version": VERSION, "doubled": doubled}


def get_json(url: str, timeout: float = 5.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(url: str, predicate, timeout: float = 15.0) -> dict:
    """Poll ``url`` until ``predicate(status, body)``; connection errors mean "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, body = get_json(url, timeout=2)
            if predicate(status, body):
                return body
            last = (status, body)
        except (OSError, HTTPException, ValueError) as exc:
            last = exc
        time.sleep(0.02)
    raise AssertionError(f"{url}: condition not met in {timeout}s, last: {last!r}")


class DevServer:
    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.port, self.debugpy_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.routes = root / "app" / "routes.py"
        self.log_path = root / "server.log"
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

    def write_routes(self, version: int | str) -> None:
        self.routes.write_text(ROUTES.format(version=version))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> float:
        """SIGTERM the outer process (as `docker stop` does); return how long it took."""
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
        return server

    yield start
    for server in servers:
        server.stop()


def hit_breakpoint(
    session: DebugSession, server: DevServer, number: int
) -> tuple[dict, dict, dict]:
    """Request the route, expect a stop at the breakpoint; return (frame, locals, response)."""
    hit = session.break_during(lambda: get_json(f"{server.url}/double/{number}", timeout=20))
    assert not hit.returned_while_stopped, "the request completed while stopped at the breakpoint"
    return hit.frame, hit.variables, hit.result


@pytest.mark.parametrize("start_debugging", [True, False], ids=["startDebugging", "debugpyAttach"])
def test_breakpoint_hits_in_each_reloaded_child(start_server, start_debugging: bool) -> None:
    server = start_server()
    wait_for(f"{server.url}/version", lambda status, body: body.get("version") == 0)
    root = str(server.root)
    with DebugSession(
        "127.0.0.1",
        server.debugpy_port,
        breakpoints={str(server.routes): [BREAKPOINT_LINE]},
        path_mappings=[{"localRoot": root, "remoteRoot": root}],
        start_debugging=start_debugging,
    ) as session:
        first_child = session.wait_child(timeout=15)
        assert session.verified[first_child][0]["verified"], session.verified

        frame, local_vars, response = hit_breakpoint(session, server, 21)
        assert (frame["source"]["path"], frame["line"]) == (str(server.routes), BREAKPOINT_LINE)
        assert local_vars["number"] == "21"
        assert local_vars["doubled"] == "42"
        assert response == (200, {"version": 0, "doubled": 42})

        server.write_routes(1)
        wait_for(f"{server.url}/version", lambda status, body: body.get("version") == 1)
        frame, local_vars, response = hit_breakpoint(session, server, 5)
        assert frame["line"] == BREAKPOINT_LINE
        assert local_vars["doubled"] == "10"
        assert response == (200, {"version": 1, "doubled": 10})

        announced = [pid for _, pid in session.child_announcements]
        assert announced[0] == first_child, announced
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
    wait_for(f"{server.url}/version", lambda status, body: body.get("version") == 0)

    server.write_routes("(")  # SyntaxError in the child: logged, JSON 500, still watching
    body = wait_for(f"{server.url}/version", lambda status, body: status == 500)
    assert body["error"]["status"] == 500, body
    assert "SyntaxError" in body["error"]["detail"], body

    server.write_routes(2)
    wait_for(f"{server.url}/version", lambda status, body: body.get("version") == 2)

    assert server.stop() < 1.0
    assert not server.group_alive()
    assert "debugpy off" in server.log()
