"""The dev server serves the metrics of an app from create_app, and nothing else."""

import socket
import threading
import time
import urllib.request

from flask import Flask

from app import create_app
from dev import metrics


def test_no_metrics_for_another_app_or_the_error_page(monkeypatch):
    served = []
    monkeypatch.setattr("app.metrics.serve", served.append)
    metrics.serve(Flask("other"))  # another factory's app: no METRICS_PORT
    metrics.serve(lambda environ, start_response: [])  # the page of an app that failed to load
    assert served == []


def test_metrics_off_or_served(clean_env, tmp_path, monkeypatch):
    served = []
    monkeypatch.setattr("app.metrics.serve", served.append)
    metrics.serve(create_app({"DATA_DIR": tmp_path, "METRICS_PORT": 0}))
    metrics.serve(create_app({"DATA_DIR": tmp_path, "METRICS_PORT": 9123}))
    assert wait_until(lambda: served == [9123])


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def busy_port(seconds: float) -> int:
    """A port held for ``seconds``, as by the app process before, still finishing."""
    busy = socket.create_server(("0.0.0.0", 0))
    threading.Timer(seconds, busy.close).start()
    return busy.getsockname()[1]


def test_the_port_is_bound_once_the_app_process_before_lets_go(clean_env, tmp_path):
    port = busy_port(0.5)
    metrics.serve(create_app({"DATA_DIR": tmp_path, "METRICS_PORT": port}))

    def served() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                return b"berth_http_requests" in answer.read()
        except OSError:
            return False

    assert wait_until(served)


def test_a_port_that_stays_busy_is_one_line_not_a_crash(clean_env, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(metrics, "BIND_WITHIN", 0.3)
    port = busy_port(5)
    metrics.serve(create_app({"DATA_DIR": tmp_path, "METRICS_PORT": port}))
    said = ""

    def says() -> bool:
        nonlocal said
        said += capsys.readouterr().err
        return bool(said)

    assert wait_until(says)
    assert said.startswith(f" * metrics not served on port {port}: ")
    assert said.count("\n") == 1
