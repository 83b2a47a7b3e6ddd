"""The dev server serves the metrics of an app from create_app, and nothing else."""

import socket

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
    assert served == [9123]


def test_a_busy_port_is_one_line_not_a_crash(clean_env, tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        metrics.serve(create_app({"DATA_DIR": tmp_path, "METRICS_PORT": port}))
    assert capsys.readouterr().err.startswith(f" * metrics not served on port {port}: ")
