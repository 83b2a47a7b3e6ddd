"""The prod image observed as a platform team would: JSON log lines with request ids under load,
hostile request ids, and metrics on their own port that add up over both workers, also after a
worker is killed. Hardened as the README runs it (read-only root, no capabilities)."""

from __future__ import annotations

import contextlib
import datetime
import http.client as http_client
import re
import threading
import time
from collections.abc import Callable

import pytest

from app import __version__
from tools.harness.commands import find_tool, run
from tools.harness.docker import HARDENED, container, docker, json_log, published_port, volume
from tools.harness.net import http, raw_exchange, wait_for_http

# Every line has these; an access line (one per request) has the request's too.
LINE_FIELDS = {"time", "level", "logger", "message"}
ACCESS_FIELDS = {"method", "path", "status", "duration_ms", "bytes", "remote", "request_id"}
SANE_ID = re.compile(r"[A-Za-z0-9\-_.:=+/@]{1,128}")
# wrk sends its own id with every other request and writes down the id of each answer.
RECORDING = """\
local thread_number = 0
function setup(thread)
  thread:set("number", thread_number)
  thread_number = thread_number + 1
end
function init(args)
  sent = 0
  out = io.open(args[1] .. "/answers-" .. number .. ".txt", "w")
  out:setvbuf("line")
end
function request()
  sent = sent + 1
  if sent % 2 == 0 then
    return wrk.format(nil, nil, {["X-Request-ID"] = "wrk-" .. number .. "-" .. sent})
  end
  return wrk.format()
end
function response(status, headers, body)
  out:write(status, " ", headers["X-Request-ID"] or "-", "\\n")
end
"""
WRK_MISSING = "wrk is missing: apt-get install wrk (brew install wrk); .ci/run installs it"


@contextlib.contextmanager
def observable(image: str):
    """A hardened prod container with its app and metrics ports on 127.0.0.1, both workers
    started: (name, app URL, metrics URL)."""
    with (
        volume() as data,
        container(image, *HARDENED, "-p", "127.0.0.1::9000", "-v", f"{data}:/data") as name,
    ):
        app = f"http://127.0.0.1:{published_port(name, 8000)[1]}"
        metrics = f"http://127.0.0.1:{published_port(name, 9000)[1]}"
        wait_for_http(f"{app}/healthz", timeout=30)
        wait_for_http(f"{metrics}/metrics", timeout=10)
        logged(name, both_workers_started, timeout=30)  # the health check needs one
        yield name, app, metrics


@pytest.fixture(scope="module")
def observed(prod_image):
    """One container for the tests that leave it as it was (they count differences)."""
    with observable(prod_image) as started:
        yield started


@pytest.fixture
def fresh(prod_image):
    """A container of its own, for a test that breaks something."""
    with observable(prod_image) as started:
        yield started


def both_workers_started(lines: list[dict]) -> bool:
    """For logged(): each of the 2 workers has built its app (the master's pid is 1)."""
    started = {line["pid"] for line in lines if line["message"].startswith("berth started")}
    return len(started - {1}) == 2


def scrape(metrics_url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample on the metrics port: (name, labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = http("GET", f"{metrics_url}/metrics")
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.body.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def workers(name: str) -> list[int]:
    """The pids of gunicorn's workers (the children of PID 1, its master)."""
    program = (
        "import pathlib\n"
        "for stat in pathlib.Path('/proc').glob('[0-9]*/stat'):\n"
        "    fields = stat.read_text().rpartition(')')[2].split()\n"
        "    if fields[1] == '1': print(stat.parent.name)\n"
    )
    return sorted(int(pid) for pid in docker("exec", name, "python", "-c", program).stdout.split())


def get_many(url: str, count: int, connections: int) -> list[str]:
    """`count` GETs of `url` over `connections` kept-alive connections at once; the request id
    of each answer (all 200)."""
    port, path = int(url.split(":")[2].split("/")[0]), "/" + url.split("/", 3)[3]
    ids: list[str] = []
    failures: list[str] = []

    def one_connection(share: int) -> None:
        conn = http_client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(share):
                conn.request("GET", path)
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    failures.append(str(answer.status))
                ids.append(answer.headers["X-Request-ID"])
        except OSError as error:
            failures.append(repr(error))
        finally:
            conn.close()

    shares = [count // connections + (i < count % connections) for i in range(connections)]
    threads = [threading.Thread(target=one_connection, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == [], failures[:5]
    assert len(ids) == count
    return ids


def logged(name: str, until: Callable[[list[dict]], bool], timeout: float = 15) -> list[dict]:
    """The container's JSON log lines once `until` holds for them (an access line is written
    just after its answer is sent); bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while not until(lines := json_log(name)):
        assert time.monotonic() < deadline, f"the log never got there:\n{lines[-20:]}"
        time.sleep(0.2)
    return lines


def with_ids(ids: set[str], logger: str = "gunicorn.access") -> Callable[[list[dict]], bool]:
    """For logged(): a line of `logger` for each of `ids`."""
    return lambda lines: (
        ids <= {line.get("request_id") for line in lines if line["logger"] == logger}
    )


def get_raw(url: str, path: str, request_id: bytes) -> tuple[int, dict[str, str]]:
    """A GET with X-Request-ID exactly as given (bytes no HTTP client would send): (status,
    headers)."""
    answer = raw_exchange(
        int(url.rsplit(":", 1)[1]),
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + request_id
        + b"\r\nConnection: close\r\n\r\n",
    )  # fmt: skip
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    status_line, *lines = head.split("\r\n")
    return int(status_line.split(" ", 2)[1]), dict(line.split(": ", 1) for line in lines)


def test_every_line_is_json_and_each_access_line_has_the_answers_id(observed, tmp_path):
    """Under a wrk run (16 connections, both workers): every line of `docker logs` is one JSON
    object with the fields, and each answer's X-Request-ID is on exactly one access line, with
    the answer's status; ids sent by the client come back, the others are made."""
    wrk = find_tool("wrk")
    assert wrk, WRK_MISSING
    name, app, _ = observed
    script = tmp_path / "record.lua"
    script.write_text(RECORDING)
    answers_dir = tmp_path / "answers"
    answers_dir.mkdir()
    load = [wrk, "-t2", "-c16", "-d3s", "--timeout", "5s", "-s", script, f"{app}/api/notes"]
    run([*load, "--", answers_dir], timeout=60)
    answered = [
        line.split(" ")
        for path in sorted(answers_dir.iterdir())
        for line in path.read_text().splitlines()
    ]
    assert len(answered) >= 50, f"wrk got only {len(answered)} answers"
    lines = logged(name, with_ids({answer_id for _, answer_id in answered}))
    for line in lines:
        assert line.keys() >= LINE_FIELDS, line
        stamp = datetime.datetime.fromisoformat(line["time"])
        assert stamp.utcoffset() == datetime.timedelta(0), line
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    for line in access:
        assert line.keys() >= ACCESS_FIELDS, line
    by_id = {line["request_id"]: line for line in access}
    assert len(by_id) == len(access), "two access lines with one request id"
    for status, answer_id in answered:
        assert SANE_ID.fullmatch(answer_id), answer_id
        line = by_id[answer_id]
        assert (line["status"], line["method"], line["path"]) == (int(status), "GET", "/api/notes")
    # wrk sent its id with every other request: those came back as sent.
    kept = [answer_id for _, answer_id in answered if answer_id.startswith("wrk-")]
    assert 0.4 < len(kept) / len(answered) < 0.6, (len(kept), len(answered))
    assert len({by_id[answer_id]["pid"] for _, answer_id in answered}) == 2, "not both workers"
    assert docker("logs", name).stderr == "", "everything goes to stdout"


def test_app_lines_and_tracebacks_carry_the_request_id(fresh):
    """A line the app writes in a worker thread has the request's id; an exception is one line
    with its traceback in a field; the database error is counted."""
    name, app, metrics = fresh
    docker(
        "exec", name, "python", "-c",
        "import sqlite3; sqlite3.connect('/data/notes.sqlite3').execute('DROP TABLE notes')",
    )  # fmt: skip
    before = scrape(metrics)
    for path, probe, expected in [("/healthz", "probe-1", 503), ("/api/notes", "probe-2", 500)]:
        status, headers = get_raw(app, path, probe.encode())
        assert (status, headers["X-Request-ID"]) == (expected, probe)
    lines = logged(name, with_ids({"probe-1", "probe-2"}, logger="app"))
    app_lines = {
        line["request_id"]: line
        for line in lines
        if line["logger"] == "app" and "request_id" in line
    }
    warning, failure = app_lines["probe-1"], app_lines["probe-2"]
    assert warning["level"] == "WARNING"
    assert "the notes table is missing" in warning["message"]
    assert failure["level"] == "ERROR"
    assert failure["traceback"].startswith("Traceback"), failure
    assert "no such table: notes" in failure["traceback"]
    errors = "berth_database_errors_total"
    after = scrape(metrics)
    assert sample(after, errors, error="OperationalError") > sample(
        before, errors, error="OperationalError"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        b"forged\nlevel: CRITICAL",  # a newline: a second log line, in a text log
        b"x" * 10_000,  # longer than gunicorn reads a header field
        b"x" * 1_000,  # read, but longer than an id may be
        b"tab\there",  # a control character gunicorn lets through
        b"bell\x07\x1b[31mred",  # control characters and a terminal escape
        b'quote"and space',
        "caf\u00e9".encode("latin-1"),
    ],
    ids=["newline", "10KB", "1KB", "tab", "escape", "quote", "latin-1"],
)
def test_a_hostile_request_id_is_replaced_never_logged(observed, hostile):
    name, app, _ = observed
    _, headers = get_raw(app, "/healthz", hostile)
    given = headers["X-Request-ID"]
    assert SANE_ID.fullmatch(given), given
    assert given.encode("latin-1") != hostile
    # Answered by the app (200) or refused by gunicorn (400, 431): logged with the new id.
    text = hostile.decode("latin-1")
    for line in logged(name, lambda lines: given in {line.get("request_id") for line in lines}):
        assert all(text not in str(value) for value in line.values()), line


def test_metrics_add_up_over_both_workers_on_their_own_port(observed):
    name, app, metrics = observed
    requests, histogram = "berth_http_requests_total", "berth_http_request_duration_seconds_count"
    counted = {"method": "GET", "route": "/api/notes"}
    before = scrape(metrics)
    ids = get_many(f"{app}/api/notes", 200, connections=8)
    after = scrape(metrics)
    for name_, labels in [(requests, {**counted, "status": "200"}), (histogram, counted)]:
        assert sample(after, name_, **labels) - sample(before, name_, **labels) == 200, name_
    assert sample(after, "berth_http_requests_in_flight") == 0
    lines = logged(name, with_ids(set(ids)))
    served_by = {line["pid"] for line in lines if line.get("request_id") in set(ids)}
    assert served_by == set(workers(name)), "the requests did not reach both workers"
    # The build that runs.
    [(_, labels)] = [key for key in after if key[0] == "berth_build_info"]
    assert dict(labels)["version"] == __version__
    # The app's port has no metrics: a JSON 404 like any unknown path.
    answer = http("GET", f"{app}/metrics")
    assert answer.status == 404
    assert answer.json()["error"]["status"] == 404
    assert SANE_ID.fullmatch(answer.headers["X-Request-ID"])


def test_counts_survive_a_worker_killed_and_replaced(fresh):
    """prometheus_client's multiprocess files: a dead worker's counts stay in the sum, its
    requests in flight leave it (gunicorn's child_exit), the new worker adds its own."""
    name, app, metrics = fresh
    get_many(f"{app}/api/notes", 60, connections=4)
    first = workers(name)
    docker("exec", name, "sh", "-c", f"kill -KILL {first[0]}")  # the shell's kill: no procps
    deadline = time.monotonic() + 30
    while (now := workers(name)) == first or len(now) != 2:
        assert time.monotonic() < deadline, f"no new worker: {now}"
        time.sleep(0.2)
    wait_for_http(f"{app}/healthz", timeout=30)
    get_many(f"{app}/api/notes", 40, connections=4)
    samples = scrape(metrics)
    total = "berth_http_requests_total"
    assert sample(samples, total, method="GET", route="/api/notes", status="200") == 100
    assert sample(samples, "berth_http_requests_in_flight") == 0
    files = docker("exec", name, "ls", "/tmp/berth-metrics").stdout.split()
    assert f"gauge_livesum_{first[0]}.db" not in files, files
    assert f"counter_{first[0]}.db" in files, files


def test_the_venv_grows_by_at_most_3_mb(prod_image):
    """What the logs and metrics add to the image: the installed files of their two packages
    (bytecode included) in the prod venv."""
    program = (
        "import importlib.metadata as m, pathlib, site\n"
        "root = pathlib.Path(site.getsitepackages()[0])\n"
        "total = 0\n"
        "for name in ('prometheus-client', 'python-json-logger'):\n"
        "    dist = m.distribution(name)\n"
        "    tops = {f.parts[0] for f in dist.files}\n"
        "    for top in tops:\n"
        "        path = root / top\n"
        "        files = path.rglob('*') if path.is_dir() else [path]\n"
        "        total += sum(f.stat().st_size for f in files if f.is_file())\n"
        "print(total)\n"
    )
    added = int(
        docker(
            "run", "--rm", "--network", "none", "--entrypoint", "python", prod_image, "-c", program
        ).stdout
    )  # fmt: skip
    assert 100_000 < added <= 3_000_000, f"{added / 1e6:.2f} MB"
