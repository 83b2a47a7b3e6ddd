"""docker/healthcheck.py, the images' HEALTHCHECK, against a local server: 200 is healthy, any
other answer or none is one line and exit 1; a proxy in the environment is not used."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "healthcheck.py"


@contextlib.contextmanager
def server(status: int) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def check(port: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT],
        env={"PORT": str(port), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthy_when_healthz_answers_200():
    with server(200) as port:
        result = check(port)
    assert (result.returncode, result.stderr) == (0, "")


def test_unhealthy_with_one_line_when_healthz_answers_otherwise():
    with server(503) as port:
        result = check(port)
    assert result.returncode == 1
    assert result.stderr == f"healthcheck: http://127.0.0.1:{port}/healthz answered 503\n"


def test_unhealthy_with_one_line_when_nothing_listens():
    with server(200) as port:
        pass  # closed again: nothing listens on it now
    result = check(port)
    assert result.returncode == 1
    assert result.stderr.startswith(f"healthcheck: http://127.0.0.1:{port}/healthz: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
def test_a_proxy_in_the_environment_is_not_used(name):
    # A company's Docker setup may give every container its proxy: the check stays local.
    with server(200) as port:
        result = check(port, **{name: "http://127.0.0.1:9"})
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
