"""The metrics in one process (the dev server's and the tests' case): counted by URL rule, on
their own port, off with METRICS_PORT=0. tests/docker/test_prod_logs_and_metrics.py checks
gunicorn's several workers."""

import tomllib
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError

from app import __version__, create_app, metrics
from tools.harness.net import free_port, http

ROOT = Path(__file__).resolve().parents[2]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counted(name: str, **labels: str):
    """A function giving how much a sample has changed since this call."""
    before = value(name, **labels)
    return lambda: value(name, **labels) - before


def test_requests_count_by_url_rule_not_path(client, make_note):
    first, second = make_note()["id"], make_note()["id"]
    by_rule = counted(
        "berth_http_requests_total",
        method="GET",
        route="/api/notes/<note_id:note_id>",
        status="200",
    )
    timed = counted(
        "berth_http_request_duration_seconds_count",
        method="GET",
        route="/api/notes/<note_id:note_id>",
    )
    missing = counted("berth_http_requests_total", method="GET", route="unmatched", status="404")
    odd = counted("berth_http_requests_total", method="other", route="unmatched", status="405")
    for note in (first, second):
        assert client.get(f"/api/notes/{note}").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.open("/api/notes", method="BREW").status_code == 405
    assert (by_rule(), timed(), missing(), odd()) == (2, 2, 1, 1)
    paths = [s.labels.get("route") for f in REGISTRY.collect() for s in f.samples]
    assert not [p for p in paths if p and p.startswith("/api/notes/") and "<" not in p]
    assert value("berth_http_requests_in_flight") == 0


def test_database_errors_are_counted(app):
    def by_error() -> dict[str, float]:
        [family] = [f for f in REGISTRY.collect() if f.name == "berth_database_errors"]
        return {s.labels["error"]: s.value for s in family.samples if s.name.endswith("_total")}

    before = by_error()
    with app.extensions["berth_db"].connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    error = type(
        caught.value.orig
    ).__name__  # SQLite's OperationalError, PyMySQL's ProgrammingError
    after = by_error()
    assert after[error] - before.get(error, 0) == 1
    assert sum(after.values()) - sum(before.values()) == 1


def test_build_info_names_the_version_of_pyproject(app):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"]
    labels = metrics.build_labels(__version__)
    assert value("berth_build_info", **labels) == 1
    assert labels["version"] == __version__


def test_off_with_metrics_port_0(clean_env, tmp_path):
    app = create_app({"DATA_DIR": tmp_path, "METRICS_PORT": 0})
    health = counted("berth_http_requests_total", method="GET", route="/healthz", status="200")
    assert app.test_client().get("/healthz").status_code == 200
    assert health() == 0


def test_served_on_their_own_port(client):
    client.get("/healthz")
    port = free_port()
    metrics.serve(port, "127.0.0.1")
    answer = http("GET", f"http://127.0.0.1:{port}/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert b'berth_http_requests_total{method="GET",route="/healthz",status="200"}' in answer.body
