"""Runs INSIDE a prod container (`python startup_driver.py MODE`), driving `python -m prod`
on 127.0.0.1 there; prints one JSON document with what happened. Standard library only.

    race N WORKERS   N starts, each on a fresh data folder, each until every worker has
                     booted (its "berth started" line), then SIGTERM.
    locked SECONDS   start while another process holds the database's write lock.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

STARTED = "berth started"


def start(data_dir: str, port: int, workers: int, log_path: str) -> subprocess.Popen:
    env = dict(os.environ, DATA_DIR=data_dir, PORT=str(port), WEB_CONCURRENCY=str(workers))
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "prod"], cwd="/app", env=env, stdout=log, stderr=log
        )


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=5)


def one_start(index: int, workers: int, root: str) -> dict:
    data_dir = os.path.join(root, f"fresh-{index}")
    log_path = os.path.join(root, f"log-{index}")
    port = 9100 + index  # not 9000: the metrics' port (METRICS_PORT's default)
    process = start(data_dir, port, workers, log_path)

    def log() -> str:
        with open(log_path, errors="replace") as f:
            return f.read()

    # The master builds the app once (the schema), then each worker once.
    booted = wait_until(lambda: log().count(STARTED) >= workers + 1 or process.poll(), 20)
    served = booted and process.poll() is None and wait_until(lambda: healthy(port), 5)
    code = stop(process)
    text = log()
    ok = served and code == 0 and "Traceback" not in text and "locked" not in text
    return {"ok": ok, "exit": code, "log": "" if ok else text[-3000:]}


def race(count: int, workers: int) -> dict:
    root = tempfile.mkdtemp()
    runs = [one_start(i, workers, root) for i in range(count)]
    return {
        "starts": count,
        "ok": sum(r["ok"] for r in runs),
        "failed": [r for r in runs if not r["ok"]],
    }


def locked(seconds: float) -> dict:
    root = tempfile.mkdtemp()
    data_dir = os.path.join(root, "data")
    first = start(data_dir, 9100, 2, os.path.join(root, "first.log"))
    made = wait_until(lambda: healthy(9100), 20)
    stop(first)
    holder = sqlite3.connect(os.path.join(data_dir, "notes.sqlite3"))
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a long write would hold it
    log_path = os.path.join(root, "second.log")
    began = time.monotonic()
    second = start(data_dir, 9101, 4, log_path)
    served = wait_until(lambda: healthy(9101), seconds)
    took = time.monotonic() - began
    still_running = second.poll() is None
    holder.rollback()
    holder.close()
    code = stop(second)
    with open(log_path, errors="replace") as f:
        text = f.read()
    return {
        "first_start_ok": made,
        "served": served,
        "seconds_to_serve": took,
        "running_while_locked": still_running,
        "exit": code,
        "log": text[-3000:],
    }


if __name__ == "__main__":
    mode = sys.argv[1]
    result = (
        race(int(sys.argv[2]), int(sys.argv[3])) if mode == "race" else locked(float(sys.argv[2]))
    )
    print(json.dumps(result))
