"""No acknowledged write is lost when the prod container is killed under write load."""

from __future__ import annotations

import json
import threading
import time
from http.client import HTTPException

from tools.harness.docker import HARDENED, base_url, container, docker, volume
from tools.harness.net import http, wait_for_http

WRITERS = 8
LOAD_SECONDS = 2.0  # of writes before the kill, per round
ROUNDS = 3


def write_until_stopped(url: str, tag: str, stop: threading.Event, acked: dict, lock) -> None:
    """POST notes one after another; remember each one the server acknowledged (201)."""
    n = 0
    while not stop.is_set() and n < 10_000:
        n += 1
        title = f"{tag}-{n}"
        try:
            answer = http(
                "POST", f"{url}/api/notes", {"title": title, "body": "x" * 100}, timeout=3
            )
        except (OSError, HTTPException):
            # The server is going away (mid-answer: IncompleteRead, which is no OSError); a
            # write whose answer did not arrive whole was not acknowledged, and may be lost.
            continue
        if answer.status == 201:
            with lock:
                acked[answer.json()["id"]] = title


def all_notes(url: str) -> dict[int, str]:
    notes: dict[int, str] = {}
    while True:
        page = http("GET", f"{url}/api/notes?limit=100&offset={len(notes)}").json()
        notes.update({n["id"]: n["title"] for n in page})
        if len(page) < 100:
            return notes


def test_killed_under_write_load_loses_no_acknowledged_write(prod_image):
    acked: dict[int, str] = {}
    lock = threading.Lock()
    with volume() as data:
        for round_ in range(ROUNDS):
            with container(prod_image, *HARDENED, "-v", f"{data}:/data") as name:
                url = base_url(name)
                wait_for_http(f"{url}/healthz", timeout=30)
                stop = threading.Event()
                writers = [
                    threading.Thread(
                        target=write_until_stopped, args=(url, f"r{round_}w{i}", stop, acked, lock)
                    )
                    for i in range(WRITERS)
                ]
                for writer in writers:
                    writer.start()
                time.sleep(LOAD_SECONDS)
                docker("kill", "-s", "KILL", name)  # no graceful anything: power cut
                stop.set()
                for writer in writers:
                    writer.join(10)
        assert len(acked) > 100 * ROUNDS, "too few writes to mean anything"

        with container(prod_image, *HARDENED, "-v", f"{data}:/data") as name:
            url = base_url(name)
            wait_for_http(f"{url}/healthz", timeout=30)
            stored = all_notes(url)
            check = docker(
                "exec",
                name,
                "python",
                "-c",
                "import json, sqlite3; c = sqlite3.connect('/data/notes.sqlite3'); "
                "print(json.dumps(c.execute('PRAGMA integrity_check').fetchall()))",
            )
    missing = {i: t for i, t in acked.items() if stored.get(i) != t}
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost: {missing}"
    assert json.loads(check.stdout) == [["ok"]]
