"""dev/debugger.py's parts, and the adapter lookup in dev/debugpy_fixes.py, without debugpy
listening (tests/integration runs it for real)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dev import debugger, debugpy_fixes


def test_accept_backlog_counts_connections_nobody_accepted():
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        port = listener.getsockname()[1]
        assert debugger.accept_backlog(port) == 0
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        time.sleep(0.1)
        assert debugger.accept_backlog(port) == 2
        accepted, _ = listener.accept()
        assert debugger.accept_backlog(port) == 1
        for sock in [accepted, *clients]:
            sock.close()


def test_alive_tells_running_from_zombie_and_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{child.pid}/stat")
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not debugger.alive(child.pid)  # a zombie
    assert debugger.alive(os.getpid())
    child.wait()
    assert not debugger.alive(child.pid)


def test_the_adapter_is_found_by_its_port_and_its_loss_is_told():
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    fake = subprocess.Popen([*sleeper, "--for-server", "1", "--port", "59999"])
    try:
        deadline = time.monotonic() + 10
        while debugpy_fixes.adapter_pid(59999) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert debugpy_fixes.adapter_pid(59999) == fake.pid
        assert debugpy_fixes.adapter_pid(59998) is None
        watch = debugger.Debugger(59999, "/nowhere")
        watch.adapter_pid = fake.pid
        assert watch.lost() is None
    finally:
        fake.send_signal(signal.SIGKILL)
        fake.wait()
    assert watch.lost() == "the debug adapter exited"


def test_the_adapter_launcher_runs_debugpys_adapter_with_the_fixes(tmp_path):
    path = debugger.adapter_launcher(tmp_path)
    try:
        assert os.access(path, os.X_OK)
        text = Path(path).read_text()
        assert text.startswith("#!/bin/sh\nexec ")
        assert "run_adapter" in text
        assert str(tmp_path) in text
    finally:
        os.unlink(path)
