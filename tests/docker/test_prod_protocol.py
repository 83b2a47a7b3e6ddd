"""The prod server at the HTTP level: slow clients, chunked bodies, methods, stop behaviour."""

from __future__ import annotations

import datetime
import http.client
import json
import time
from urllib.parse import urlsplit

from tools.harness import net
from tools.harness.docker import docker, inspect
from tools.harness.net import raw_request
from tools.harness.slowclients import probe, slow_clients

SLOW_CONNECTIONS = 256
ATTACK_SECONDS = 15


def port_of(url: str) -> int:
    return urlsplit(url).port


def send(url: str, method: str, path: str, body=None, headers=None, chunked=False):
    return raw_request(port_of(url), method, path, body, headers, chunked)


def raw_exchange(url: str, data: bytes) -> bytes:
    return net.raw_exchange(port_of(url), data)


def assert_json_error(status, headers, body, expected):
    assert status == expected, body[:300]
    assert headers["Content-Type"] == "application/json", headers
    assert json.loads(body)["error"]["status"] == expected


def test_slow_clients_do_not_starve_the_server(prod):
    """256 connections that trickle their headers or bodies: the health check and normal
    requests keep being answered within 1 s, and Docker keeps the container healthy."""
    name, url = prod
    port = port_of(url)
    began = datetime.datetime.now(datetime.UTC).isoformat()
    with slow_clients(port, SLOW_CONNECTIONS) as stats:
        result = probe(port, ATTACK_SECONDS, deadline=1.0)
        open_at_end = stats.connections_opened - stats.closed_by_server
    assert open_at_end >= SLOW_CONNECTIONS * 0.9, stats  # the attack really held its connections
    assert result.sent >= 50, result
    assert result.success_rate >= 0.99, (result.success_rate, result.failures[:10])
    health = json.loads(inspect(name, "{{json .State.Health}}"))
    assert health["Status"] == "healthy", health
    assert health["FailingStreak"] == 0, health
    during = [entry for entry in health["Log"] if entry["Start"] >= began[:19]]
    assert any(entry["ExitCode"] == 0 for entry in during), health  # checked, and passed
    # Docker's own verdict never turned. (One check alone may time out on a CI runner whose 2
    # cores also build images: the check is a `docker exec` of a Python process, 3 s at most.)
    verdicts = docker(
        "events", "--since", began, "--until", str(time.time()),
        "--filter", f"container={name}", "--filter", "event=health_status",
        "--format", "{{.Status}}",
        timeout=30,
    ).stdout.splitlines()  # fmt: skip
    assert "health_status: unhealthy" not in verdicts, (verdicts, health)


def test_chunked_bodies_over_the_limit_are_413_not_cut(prod):
    _, url = prod
    headers = {"Content-Type": "application/json"}
    long_note = [b'{"title": "long", "body": "', b"x" * 70_000, b'"}']
    padded = [b'{"title": "padded"}'] + [b" " * 65536] * 16  # valid JSON + 1 MB of spaces
    for parts in (long_note, padded):
        assert_json_error(*send(url, "POST", "/api/notes", parts, headers, chunked=True), 413)
    status, _, body = send(url, "POST", "/api/notes", [b'{"title":', b' "ok"}'], headers, True)
    assert status == 201, body
    _, _, listed = send(url, "GET", "/api/notes")
    assert [n["title"] for n in json.loads(listed)] == ["ok"]


def parse_answer(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a raw HTTP/1.1 answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split(" ", 2)[1]), headers, body


def test_broken_chunked_framing_is_a_json_400_with_the_request_id(prod):
    _, url = prod
    answer = raw_exchange(
        url,
        b"POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Request-ID: chunky-1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    )
    status, headers, body = parse_answer(answer)
    assert_json_error(status, headers, body, 400)
    assert headers["X-Request-ID"] == "chunky-1"


def test_methods_and_empty_answers(prod):
    _, url = prod
    status, headers, body = send(url, "OPTIONS", "/api/notes")
    assert (status, body, headers["Content-Type"]) == (200, b"", None)
    assert {"GET", "POST"} <= set(headers["Allow"].split(", "))
    created = json.loads(
        send(url, "POST", "/api/notes", b'{"title": "x"}', {"Content-Type": "application/json"})[2]
    )
    status, headers, body = send(url, "DELETE", f"/api/notes/{created['id']}")
    assert (status, body, headers["Content-Type"]) == (204, b"", None)
    for method in ("PATCH", "TRACE", "FOO"):
        assert_json_error(*send(url, method, "/api/notes"), 405)
    status, headers, body = send(url, "HEAD", "/healthz")
    assert (status, body) == (200, b"")
    # A fullwidth "1" is not an id, and an id SQLite cannot hold is simply not there.
    assert_json_error(*send(url, "GET", "/api/notes/%EF%BC%91"), 404)
    assert_json_error(*send(url, "GET", f"/api/notes/{2**63}"), 404)
    assert_json_error(*send(url, "GET", f"/api/notes?offset={2**63}"), 400)


def test_protocol_errors_are_gunicorns_in_the_apps_json(prod):
    """What never reaches the app (the README lists these): gunicorn's own 4xx, in the app's
    JSON error shape, with a new request id (none from a request it could not parse)."""
    _, url = prod
    ids = set()
    for data, expected in [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: mine\r\nBad Header: 1\r\n\r\n", 400),
    ]:
        status, headers, body = parse_answer(raw_exchange(url, data))
        assert_json_error(status, headers, body, expected)
        assert headers["Connection"] == "close"
        ids.add(headers["X-Request-ID"])
    assert len(ids) == 2, ids
    assert "mine" not in ids


def test_stops_fast_with_an_idle_kept_alive_connection(prod):
    name, url = prod
    conn = http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=5)
    try:
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        start = time.monotonic()
        docker("stop", "--time", "10", name)
        elapsed = time.monotonic() - start
    finally:
        conn.close()
    logs = docker("logs", "-t", name)
    assert inspect(name, "{{.State.ExitCode}}") == "0"
    assert elapsed < 1.5, f"docker stop took {elapsed:.2f} s\n{logs.stdout}{logs.stderr}"
