"""The prod image, run for real: serving, hardening, signals, health and persistence."""

from __future__ import annotations

import json
import time

from tools.harness.docker import (
    HARDENED,
    base_url,
    container,
    docker,
    inspect,
    logged_errors,
    volume,
    wait_for_health,
)
from tools.harness.net import http, wait_for_http

# Importable from the app's venv: none of these. (The base image's own pip stays outside the venv.)
DEV_TOOLS = ("pytest", "debugpy", "watchdog", "ruff", "pip")
# On PATH: none of these either: no dev tools, no compilers, no downloaders.
PROGRAMS = ("pytest", "debugpy", "watchmedo", "ruff", "gcc", "cc", "make", "curl", "wget")


def test_serves_health_and_the_api_hardened(prod):
    name, url = prod
    assert http("GET", f"{url}/healthz").json() == {"status": "ok"}
    created = http("POST", f"{url}/api/notes", {"title": "from the container test"})
    assert created.status == 201, created.body
    note = created.json()
    fetched = http("GET", f"{url}/api/notes/{note['id']}")
    assert fetched.status == 200
    assert fetched.json()["title"] == "from the container test"
    # The root file system really is read-only and capabilities really are gone.
    probe = docker("exec", name, "sh", "-c", "touch /app/x 2>&1; grep CapEff /proc/1/status")
    assert "Read-only file system" in probe.stdout
    assert "CapEff:\t0000000000000000" in probe.stdout
    # ...and nothing in the server complained about either.
    assert logged_errors(name) == []


def test_bad_input_gets_json_errors_not_tracebacks(prod):
    _, url = prod
    for method, path, payload in [
        ("POST", "/api/notes", {"nope": 1}),
        ("GET", "/api/notes/999999", None),
        ("GET", "/no-such-page", None),
    ]:
        answer = http(method, url + path, payload)
        assert 400 <= answer.status < 500, (path, answer.status)
        assert answer.headers.get("Content-Type", "").startswith("application/json")
        body = answer.json()
        assert body["error"]["status"] == answer.status
        assert b"Traceback" not in answer.body


def test_runs_as_non_root_without_dev_tools(prod_image, prod):
    name, _ = prod
    assert docker("exec", name, "id", "-u").stdout.strip() != "0"
    assert inspect(prod_image, "{{.Config.User}}") not in ("", "root", "0")
    found = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        prod_image,
        "-c",
        "import importlib.util, json, shutil; "
        f"mods = {list(DEV_TOOLS)!r}; "
        "print(json.dumps({'modules': [m for m in mods if importlib.util.find_spec(m)], "
        f"'programs': [p for p in {list(PROGRAMS)!r} if shutil.which(p)]}}))",
    )
    assert json.loads(found.stdout) == {"modules": [], "programs": []}
    caches = docker(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        prod_image,
        "-c",
        "ls -d /root/.cache/pip /tmp/requirements*.txt /opt/venv/bin/pip 2>/dev/null; true",
    )
    assert caches.stdout.strip() == ""


def test_stops_fast_and_clean(prod):
    name, _ = prod
    start = time.monotonic()
    docker("stop", "--time", "10", name)
    elapsed = time.monotonic() - start
    assert inspect(name, "{{.State.ExitCode}}") == "0"
    assert elapsed < 2, f"docker stop took {elapsed:.2f} s"


def test_reports_healthy_via_its_healthcheck(prod):
    name, _ = prod
    status, took = wait_for_health(name, timeout=40)
    assert status == "healthy", f"{status} after {took:.1f} s"


def test_data_survives_a_new_container_on_the_same_volume(prod_image):
    with volume() as data:
        with container(prod_image, *HARDENED, "-v", f"{data}:/data") as first:
            url = base_url(first)
            wait_for_http(f"{url}/healthz", timeout=30)
            note = http("POST", f"{url}/api/notes", {"title": "keep me", "body": "please"}).json()
        with container(prod_image, *HARDENED, "-v", f"{data}:/data") as second:
            url = base_url(second)
            wait_for_http(f"{url}/healthz", timeout=30)
            kept = http("GET", f"{url}/api/notes/{note['id']}")
        assert kept.status == 200
        assert (kept.json()["title"], kept.json()["body"]) == ("keep me", "please")
