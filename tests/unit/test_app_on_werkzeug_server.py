"""The app on Werkzeug's real server in debug mode, as the dev server runs it: client errors
and crashes still answer in the app's JSON shape, chunked bodies included."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from tools.harness.net import raw_request


@pytest.fixture
def server(clean_env, tmp_path):
    app = create_app({"DATA_DIR": tmp_path, "MAX_BODY_BYTES": 1000})
    app.debug = True  # what dev/serve.py does with FLASK_DEBUG=1

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join(5)


request = raw_request


def assert_json(status, headers, body, expected):
    assert status == expected, body[:300]
    assert headers["Content-Type"] == "application/json", body[:300]
    assert json.loads(body)["error"]["status"] == expected


def test_crash_is_json_500_in_debug_mode(server):
    status, headers, body = request(server, "GET", "/boom")
    assert_json(status, headers, body, 500)
    assert b"secret internals" not in body


@pytest.mark.parametrize(
    "parts",
    [
        [b'{"title": "x"}', b" " * 600, b" " * 600],  # valid JSON, then padding past the limit
        [b'{"title": "', b"x" * 700, b"x" * 700, b'"}'],  # a long note
    ],
    ids=["padding", "long-note"],
)
def test_chunked_body_over_the_limit_is_413(server, parts):
    headers = {"Content-Type": "application/json"}
    status, headers, body = request(server, "POST", "/api/notes", parts, headers, chunked=True)
    assert_json(status, headers, body, 413)
    _, _, listed = request(server, "GET", "/api/notes")
    assert json.loads(listed) == []


def test_chunked_body_within_the_limit_is_stored(server):
    headers = {"Content-Type": "application/json"}
    parts = [b'{"title": ', b'"chunked"}']
    status, _, body = request(server, "POST", "/api/notes", parts, headers, chunked=True)
    assert status == 201, body
    assert json.loads(body)["title"] == "chunked"


def test_options_and_204_have_no_content_type(server):
    status, headers, body = request(server, "OPTIONS", "/api/notes")
    assert (status, body, headers["Content-Type"]) == (200, b"", None)
    _, _, created = request(
        server, "POST", "/api/notes", b'{"title": "x"}', {"Content-Type": "application/json"}
    )
    status, headers, body = request(server, "DELETE", f"/api/notes/{json.loads(created)['id']}")
    assert (status, body, headers["Content-Type"]) == (204, b"", None)
