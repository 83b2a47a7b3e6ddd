"""The prod server's start: the schema once before any worker serves, and bad settings."""

from __future__ import annotations

import contextlib
import datetime
import json

import pytest

from tools.harness.docker import HARDENED, container, docker, inspect, volume
from tools.harness.project import ROOT

DRIVER = ROOT / "tools" / "harness" / "startup_driver.py"
IN_CONTAINER = "/opt/berth-test/startup_driver.py"


def drive(image: str, *args: str, timeout: float) -> dict:
    """Run the start-up driver in a hardened prod container; its JSON answer."""
    result = docker(
        "run",
        "--rm",
        *HARDENED[:-2],  # no port: the driver talks to the server inside the container
        "-v",
        f"{DRIVER}:{IN_CONTAINER}:ro",
        "--entrypoint",
        "python",
        image,
        IN_CONTAINER,
        *args,
        timeout=timeout,
    )
    return json.loads(result.stdout)


def test_fifty_fresh_starts_with_four_workers_never_fail(prod_image):
    """Workers that raced to create the schema on a fresh file would fail ("database is locked")."""
    result = drive(prod_image, "race", "50", "4", timeout=240)
    assert result["ok"] == result["starts"] == 50, json.dumps(result["failed"][:2], indent=1)


def test_starts_while_another_process_holds_the_write_lock(prod_image):
    """Workers do not write at start, so a long write elsewhere cannot stop the server."""
    result = drive(prod_image, "locked", "8", timeout=120)
    assert result["first_start_ok"], result["log"]
    assert result["served"], result["log"]
    assert result["running_while_locked"], result["log"]
    assert result["seconds_to_serve"] < 5, result
    assert result["exit"] == 0, result["log"]


def _seconds(timestamp: str) -> datetime.datetime:
    # Docker gives nanoseconds; Python parses microseconds.
    head, _, fraction = timestamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}")


READ_ONLY_DATA = ":ro"  # the data volume mounted read-only
NO_TMPFS = "no tmpfs"  # the read-only root without the tmpfs on /tmp
MARKS = (READ_ONLY_DATA, NO_TMPFS)
BAD_SETTINGS = [
    # (docker run arguments, what the one line must contain)
    (["-e", "MAX_BODY_BYTES=abc"], ["MAX_BODY_BYTES", "'abc'", "whole number from 1"]),
    (["-e", "LOG_LEVEL=verbose"], ["LOG_LEVEL", "'verbose'", "DEBUG, INFO"]),
    (["-e", "DATA_DIR=/app/data"], ["DATA_DIR", "'/app/data'", "writable folder"]),
    ([READ_ONLY_DATA], ["DATA_DIR", "'/data'", "writable folder"]),
    (["-e", "WEB_CONCURRENCY=abc"], ["WEB_CONCURRENCY", "'abc'", "from 1 to 64"]),
    (["-e", "WEB_CONCURRENCY=0"], ["WEB_CONCURRENCY", "'0'", "from 1 to 64"]),
    (["-e", "GUNICORN_TIMEOUT=-5"], ["GUNICORN_TIMEOUT", "'-5'", "from 1 to 3600"]),
    (["-e", "GUNICORN_GRACEFUL_TIMEOUT=soon"], ["GUNICORN_GRACEFUL_TIMEOUT", "'soon'", "from 0"]),
    (["-e", "GUNICORN_WORKER_CONNECTIONS=0"], ["GUNICORN_WORKER_CONNECTIONS", "'0'", "from 1"]),
    (["-e", "GUNICORN_THREADS=0"], ["GUNICORN_THREADS", "'0'", "from 1 to 256"]),
    (["-e", "GUNICORN_THREDS=4"], ["GUNICORN_THREDS", "'4'", "accepted: GUNICORN_THREADS"]),
    (["-e", "GUNICORN_CMD_ARGS=--workers abc"], ["GUNICORN_CMD_ARGS", "'--workers abc'", "int"]),
    (["-e", "PORT=99999"], ["PORT", "'99999'", "from 1 to 65535"]),
    (["-e", "PORT=http"], ["PORT", "'http'", "from 1 to 65535"]),
    (["-e", "LOG_FORMAT=yaml"], ["LOG_FORMAT", "'yaml'", "json, text"]),
    (["-e", "METRICS_PORT=http"], ["METRICS_PORT", "'http'", "or 0 for no metrics"]),
    (["-e", "METRICS_PORT=8000"], ["METRICS_PORT and PORT are both 8000", "METRICS_PORT=0"]),
    ([NO_TMPFS], ["the metrics need a writable /tmp", "--tmpfs /tmp", "METRICS_PORT=0"]),
]


@pytest.mark.parametrize(
    ("args", "expected"), BAD_SETTINGS, ids=[" ".join(a) for a, _ in BAD_SETTINGS]
)
def test_a_bad_setting_exits_fast_with_one_line(prod_image, args, expected):
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(volume())
        mount = f"{data}:/data" + (READ_ONLY_DATA if READ_ONLY_DATA in args else "")
        env = [a for a in args if a not in MARKS]
        hardened = list(HARDENED)
        if NO_TMPFS in args:
            del hardened[hardened.index("--tmpfs") : hardened.index("--tmpfs") + 2]
        name = stack.enter_context(container(prod_image, *hardened, "-v", mount, *env))
        docker("wait", name, timeout=30)
        code = int(inspect(name, "{{.State.ExitCode}}"))
        started = _seconds(inspect(name, "{{.State.StartedAt}}"))
        finished = _seconds(inspect(name, "{{.State.FinishedAt}}"))
        logs = docker("logs", name)
    output = (logs.stdout + logs.stderr).strip()
    lines = output.splitlines()
    assert code != 0, output
    # Well under a second on an idle machine; the bound only tells "stops at once" from a
    # retry loop or a hang, also on a 2-core CI runner busy with other containers.
    assert (finished - started).total_seconds() < 5, (finished - started, output)
    assert len(lines) == 1, output
    assert "Traceback" not in output
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
