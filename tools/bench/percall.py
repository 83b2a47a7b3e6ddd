"""What prod's logs and metrics cost per request in CPU, in this process, without Docker, the
network or a load generator: the microseconds each piece adds, next to what the app itself
takes for the same request. Figure 7 (load) measures the same cost end to end, where the noise
of a shared machine is larger than the cost; this says which piece a change would have to cut.

    python -m tools.bench.percall        (from the project root, in the dev venv)

Each metrics mode runs in a process of its own (prometheus_client picks its value class, in
memory or memory-mapped files, when it is imported): `memory` as the dev server and the tests
run, `multiprocess` as prod's workers do (PROMETHEUS_MULTIPROC_DIR set, a temporary folder).
Rows:

* the metrics middleware (app/metrics.py) around an app that answers at once, less that app;
  and its parts: a `labels()` lookup, a counter's inc(), a histogram's observe(), the
  in-flight gauge's inc() and dec();
* one access line through prod's gunicorn logger (prod/logs.py), JSON and text, to /dev/null;
* the app's own GET /healthz and GET /api/notes (metrics off, text logs, 50 notes), for scale.

The best of a few repeats of many calls, in microseconds per call.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = ("memory", "multiprocess")
CALLS = 20_000


def per_call(call: Callable[[], object], number: int = CALLS) -> float:
    """Microseconds per call: the best of 5 repeats."""
    for _ in range(min(number, 500)):
        call()
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def wsgi_call(wsgi: Callable, path: str) -> Callable[[], None]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, headers={"X-Request-ID": "bench"}).get_environ()

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        return None

    def call() -> None:
        body = wsgi(dict(environ), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close:
            close()

    return call


def metrics_rows() -> dict[str, float]:
    from app import metrics

    class Rule:
        rule = "/healthz"

    class Request:
        url_rule = Rule

    def answer(environ: dict, start_response: Callable) -> list[bytes]:
        environ["werkzeug.request"] = Request  # what Flask leaves for the middleware
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    bare = per_call(wsgi_call(answer, "/healthz"))
    wrapped = per_call(wsgi_call(metrics.Middleware(answer), "/healthz"))
    counter = metrics.REQUESTS.labels("GET", "/healthz", "200")
    histogram = metrics.DURATION.labels("GET", "/healthz")
    gauge = metrics.IN_FLIGHT
    return {
        "metrics middleware (all of it)": wrapped - bare,
        "  labels() lookup, once": per_call(lambda: metrics.REQUESTS.labels("GET", "/", "200")),
        "  counter inc()": per_call(counter.inc),
        "  histogram observe()": per_call(lambda: histogram.observe(0.003)),
        "  in-flight gauge inc() and dec()": per_call(lambda: (gauge.inc(), gauge.dec())),
    }


def access_rows() -> dict[str, float]:
    from gunicorn.config import Config
    from werkzeug.test import EnvironBuilder

    import prod.logs

    class Response:
        status = "200 OK"
        sent = 713
        headers = (("X-Request-ID", "bench"), ("Content-Type", "application/json"))

    class Request:
        headers = (("HOST", "localhost"),)
        method, path, query, uri, version = "GET", "/api/notes", "limit=5", "/api/notes", (1, 1)

    environ = EnvironBuilder(path="/api/notes", query_string="limit=5").get_environ()
    environ.update(REMOTE_ADDR="10.0.0.7", RAW_URI="/api/notes?limit=5")
    took = datetime.timedelta(milliseconds=1.9)
    rows = {}
    with open(os.devnull, "w") as sink:
        for log_format in ("json", "text"):
            os.environ["LOG_FORMAT"] = log_format
            config = Config()
            config.set("accesslog", "-")
            config.set("access_log_format", prod.logs.TEXT_ACCESS_FORMAT)
            logger = prod.logs.Logger(config)
            for handler in logger.access_log.handlers:
                handler.setStream(sink)
            rows[f"access line, {log_format}"] = per_call(
                lambda logger=logger: logger.access(Response, Request, environ, took)
            )
    return rows


def app_rows() -> dict[str, float]:
    from app import create_app

    app = create_app({"LOG_FORMAT": "text", "METRICS_PORT": 0})
    app.logger.disabled = True
    client = app.test_client()
    for i in range(50):
        client.post("/api/notes", json={"title": f"note {i}", "body": "x" * 200})
    return {
        f"the app: GET {path}": per_call(wsgi_call(app.wsgi_app, path), number=2_000)
        for path in ("/healthz", "/api/notes")
    }


def child(mode: str) -> None:
    rows = metrics_rows()
    if mode == MODES[0]:
        rows |= access_rows() | app_rows()
    for name, micros in rows.items():
        print(f"{name}\t{mode}\t{micros:.2f}")


def main() -> None:
    print(f"{'per request, in this process':40} {'mode':>13} {'µs':>8}")
    for mode in MODES:
        with tempfile.TemporaryDirectory(prefix="berth-percall-") as folder:
            env = {**os.environ, "DATA_DIR": folder, "METRICS_PORT": "9000"}
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            if mode == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=folder)
            answer = subprocess.run(
                [sys.executable, "-m", "tools.bench.percall", "--child", mode],
                cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=600,
            )  # fmt: skip
        for line in answer.stdout.splitlines():
            name, where, micros = line.split("\t")
            print(f"{name:40} {where:>13} {float(micros):8.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()
