"""dev/supervisor.py's parts, without starting a dev server (tests/integration does that): an
app process's pipes, the socket kept across a restart in place, the subreaper."""

import os
import socket
import subprocess
import sys
import textwrap
import time

from dev import supervisor
from dev.app_process import LEAVING, LOADED, READY
from dev.supervisor import AppProcess

# A stand-in app process: ready, waits for its go, loaded, then leaving at a byte on stdin.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    go, report = int(sys.argv[1]), int(sys.argv[2])
    os.write(report, b"r")
    assert os.read(go, 1) == b"1"
    os.write(report, b"l")
    sys.stdin.read(1)
    os.write(report, b"x")
    time.sleep(30)
    """
)


def start_child() -> AppProcess:
    go_r, go_w = os.pipe()
    report_r, report_w = os.pipe()
    popen = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(go_r), str(report_w)],
        pass_fds=(go_r, report_w),
        stdin=subprocess.PIPE,
    )
    os.close(go_r)
    os.close(report_w)
    return AppProcess(popen, go_w, report_r)


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_the_reports_of_an_app_process_come_in_their_order():
    child = start_child()
    try:
        assert wait_until(lambda: child.reported(READY))
        time.sleep(0.3)
        assert not child.reported(LOADED)  # waits for its go
        child.go()
        assert wait_until(lambda: child.reported(LOADED))
        assert not child.reported(LEAVING)
        child.popen.stdin.write(b"x")
        child.popen.stdin.flush()
        assert wait_until(lambda: child.reported(LEAVING))
        assert child.report_fd is not None  # open until it exits
    finally:
        child.popen.kill()
        child.popen.wait()


def test_an_app_process_that_exits_has_reported_nothing_more_and_its_pipes_close():
    child = start_child()
    assert wait_until(lambda: child.reported(READY))
    child.popen.kill()
    child.popen.wait()

    def pipe_ended() -> bool:
        child.read_reports()
        return child.report_fd is None  # the end of its pipe was read, and it was closed

    assert wait_until(pipe_ended)
    assert not child.reported(LOADED)
    assert not child.reported(LEAVING)  # it died: that is not leaving after a change
    child.close()
    child.go()  # harmless once it is gone


def test_the_http_socket_is_kept_across_a_restart_in_place(monkeypatch):
    first = supervisor.http_socket(0)
    try:
        port = first.getsockname()[1]
        monkeypatch.setenv(supervisor.HTTP_FD_ENV, str(first.fileno()))
        again = supervisor.http_socket(port)
        assert again.fileno() == first.fileno()
        assert supervisor.HTTP_FD_ENV not in os.environ  # not handed on to app processes
        assert again.get_inheritable()
    finally:
        first.close()


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port = taken.getsockname()[1]
        code = f"from dev.supervisor import http_socket; http_socket({port})"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f" * cannot listen on PORT={port}: Address already in use")


def test_orphans_become_the_subreapers_children():
    """A grandchild whose parent exits is re-parented to the subreaper, not to PID 1."""
    code = textwrap.dedent(
        """
        import os, subprocess, sys, time
        from dev.supervisor import become_subreaper
        become_subreaper()
        middle = subprocess.Popen([sys.executable, "-c",
            "import subprocess, sys; p = subprocess.Popen(['sleep', '5']); print(p.pid)"],
            stdout=subprocess.PIPE, text=True)
        orphan = int(middle.stdout.readline())
        middle.wait()
        time.sleep(0.2)
        print(open(f"/proc/{orphan}/stat").read().rpartition(")")[2].split()[1] == str(os.getpid()))
        os.kill(orphan, 9)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.stdout.strip() == "True", result.stderr
