"""Static checks of docker-compose.dev.yml: compose accepts it, it matches the Compose
Specification's JSON schema, and the resolved config publishes every port on 127.0.0.1 only.
With docker-compose.watch.yml on top: no source mount, and a rebuild for every file the image
build reads.

Neither tool needs the engine (only the docker CLI with Compose v2, and check-jsonschema from
tools/requirements.txt); each check is also run on a broken copy, so a tool that silently accepted
everything would fail here.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path

import pytest

from tools.harness.commands import host_tool, run
from tools.harness.compose import stack_env
from tools.harness.project import ROOT

COMPOSE_FILE = ROOT / "docker-compose.dev.yml"


def _compose(*args: str, compose_file: Path = COMPOSE_FILE, **settings: str):
    """A compose command on the file, with none of the caller's settings that would change it."""
    return run(
        ["docker", "compose", "-f", compose_file, *args],
        cwd=ROOT,
        env=stack_env(**settings),
        replace_env=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def check_jsonschema() -> str:
    return host_tool("check-jsonschema")


@pytest.fixture
def broken_compose_file(tmp_path) -> Path:
    """The dev compose file with a key the spec does not have, next to the real one's paths."""
    text = COMPOSE_FILE.read_text()
    broken = text.replace(
        "    stop_grace_period: 3s", "    stop_grace_period: 3s\n    no_such_key: 1"
    )
    assert broken != text, "docker-compose.dev.yml no longer has the line this test edits"
    path = tmp_path / "docker-compose.dev.yml"
    path.write_text(broken)
    return path


def test_compose_config_accepts_the_file():
    result = _compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_config_rejects_a_broken_copy(broken_compose_file):
    result = _compose("config", "-q", compose_file=broken_compose_file)
    assert result.returncode != 0, "compose accepted an unknown service key"
    assert "no_such_key" in result.stderr, result.stderr


def test_file_matches_the_compose_spec_schema(check_jsonschema):
    result = run(
        [check_jsonschema, "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE], check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_copy(check_jsonschema, broken_compose_file):
    result = run(
        [check_jsonschema, "--builtin-schema", "vendor.compose-spec", broken_compose_file],
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no_such_key" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("settings", "app", "debugpy"),
    [({}, "8000", "5678"), ({"APP_PORT": "18001", "DEBUGPY_PORT": "15679"}, "18001", "15679")],
    ids=["defaults", "moved"],
)
def test_resolved_ports_are_loopback_only(settings, app, debugpy):
    result = _compose("config", "--format", "json", **settings)
    assert result.returncode == 0, result.stderr
    ports = json.loads(result.stdout)["services"]["web"]["ports"]
    assert sorted((p["target"], p.get("host_ip"), p.get("published")) for p in ports) == [
        (5678, "127.0.0.1", debugpy),
        (8000, "127.0.0.1", app),
        (9000, "127.0.0.1", None),  # the metrics, on a free port: two checkouts never collide
    ], ports


# -- the base images: official names by default, a mirror's by one setting each -----------------

MIRROR = "registry.example.com/library"


@pytest.mark.parametrize(
    ("settings", "python", "mariadb"),
    [
        ({}, "python:3.13-slim", "mariadb:11.8"),
        ({"PYTHON_VERSION": "3.12", "MARIADB_VERSION": "11.4"}, "python:3.12-slim", "mariadb:11.4"),
        (
            {"PYTHON_IMAGE": f"{MIRROR}/python:3.13", "MARIADB_IMAGE": f"{MIRROR}/mariadb:11.8"},
            f"{MIRROR}/python:3.13",
            f"{MIRROR}/mariadb:11.8",
        ),
    ],
    ids=["official", "versions", "mirror"],
)
def test_resolved_base_images(settings, python, mariadb):
    result = _compose("config", "--format", "json", COMPOSE_PROFILES="db", **settings)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["web"]["build"]["args"]["PYTHON_IMAGE"] == python
    assert services["db"]["image"] == mariadb


# -- Podman: docker-compose.podman.yml on top, and nothing its API refuses ---------------------

PODMAN_FILE = ROOT / "docker-compose.podman.yml"


def test_no_healthcheck_uses_what_podmans_api_refuses():
    # compose refuses start_interval against an API older than Docker Engine 25's (Podman's).
    result = _compose("config", "--format", "json", COMPOSE_PROFILES="db")
    assert result.returncode == 0, result.stderr
    for name, service in json.loads(result.stdout)["services"].items():
        assert "start_interval" not in service.get("healthcheck", {}), name


def test_podman_mode_maps_the_developer_to_the_image_user_and_relabels_the_checkout():
    result = _compose("-f", str(PODMAN_FILE), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    web = json.loads(result.stdout)["services"]["web"]
    assert web["userns_mode"] == "keep-id:uid=1000,gid=1000"
    binds = [v for v in web["volumes"] if v["type"] == "bind"]
    assert [(v["target"], v.get("bind", {}).get("selinux")) for v in binds] == [("/app", "z")]
    assert sorted((p["target"], p.get("host_ip")) for p in web["ports"]) == [
        (5678, "127.0.0.1"),
        (8000, "127.0.0.1"),
        (9000, "127.0.0.1"),
    ]


# -- watch mode: docker-compose.watch.yml on top of the dev file -------------------------------

WATCH_FILE = ROOT / "docker-compose.watch.yml"


def _watch_config() -> dict:
    result = _compose("-f", str(WATCH_FILE), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_watch_mode_resolves_to_a_valid_file(check_jsonschema, tmp_path):
    """The override uses `!override`, which no schema tool reads: check what compose makes of
    the two files together."""
    resolved = tmp_path / "resolved.json"
    resolved.write_text(json.dumps(_watch_config()))
    result = run(
        [check_jsonschema, "--builtin-schema", "vendor.compose-spec", resolved], check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_watch_mode_has_no_source_mount_and_the_same_ports():
    web = _watch_config()["services"]["web"]
    assert [(v["type"], v["target"]) for v in web["volumes"]] == [("volume", "/data")]
    assert sorted((p["target"], p.get("host_ip")) for p in web["ports"]) == [
        (5678, "127.0.0.1"),
        (8000, "127.0.0.1"),
        (9000, "127.0.0.1"),
    ]


def dev_stages() -> dict[str, list[str]]:
    """The Dockerfile's instructions (continuations joined) by stage, for the dev target and
    the stages it is built from."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        if m := re.match(r"FROM \S+ AS (\S+)", line):
            current = stages.setdefault(m[1], [line])
        elif line and not line.startswith("#"):
            current.append(line)
    needed, todo = set(), ["dev"]
    while todo:
        stage = todo.pop()
        needed.add(stage)
        text = " ".join(stages[stage])
        used = re.findall(r"(?:FROM\s+|--from=|from=)(\S+?)(?=[\s,]|$)", text)
        todo += [u for u in used if u in stages and u not in needed]
    return {name: lines for name, lines in stages.items() if name in needed}


def build_inputs() -> set[str]:
    """What the dev image's build reads from the context besides the code it copies whole
    (`COPY . /app`): the sources of its COPY instructions and bind mounts."""
    inputs = {"Dockerfile", ".dockerignore"}
    for lines in dev_stages().values():
        for line in lines:
            words = line.split()
            if words[:1] == ["COPY"] and not any(w.startswith("--from=") for w in words):
                inputs |= {w for w in words[1:-1] if not w.startswith("--") and w != "."}
            for mount in re.findall(r"--mount=(\S+)", line):
                options = dict(o.split("=", 1) for o in mount.split(",") if "=" in o)
                if options.get("type") == "bind" and "from" not in options:
                    inputs.add(options["source"])
    return inputs


def test_watch_mode_rebuilds_on_every_build_input_and_syncs_the_rest():
    rules = _watch_config()["services"]["web"]["develop"]["watch"]
    root = Path(os.path.realpath(ROOT))
    rebuild = {
        Path(r["path"]).relative_to(root).as_posix() for r in rules if r["action"] == "rebuild"
    }
    syncs = [r for r in rules if r["action"] == "sync"]
    assert len(syncs) == 1, rules
    assert (Path(syncs[0]["path"]), syncs[0]["target"]) == (root, "/app"), syncs
    inputs = build_inputs()
    assert "requirements.txt" in inputs, inputs  # the parsing still finds the pins
    for path in inputs:
        covered = [r for r in rebuild if path == r or path.startswith(r + "/")]
        assert covered, f"{path} is read by the image build but no watch rule rebuilds on it"
        # ...and the sync rule leaves it to that rebuild.
        ignored = syncs[0]["ignore"]
        assert any(fnmatch.fnmatch(path, p.rstrip("/")) or path.startswith(p) for p in ignored), (
            path,
            ignored,
        )


# -- the database password: one file for both services -----------------------------------------

SECRET_FILE = "/run/secrets/db_password"  # noqa: S105 (where the file is, not what it holds)
# What the app is told of the database service, with or without the profile (app/config.py).
SERVICE_ENV = {
    "DATABASE_SERVICE": "db",
    "MARIADB_USER": "berth",
    "MARIADB_DATABASE": "berth",
    "MARIADB_PASSWORD_FILE": SECRET_FILE,
}


def _database_config(**settings: str) -> dict:
    result = _compose("config", "--format", "json", **settings)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("settings", "source"),
    [
        ({}, "db_password"),
        ({"MARIADB_PASSWORD": "p@ss:w/rd%1"}, "db_password_value"),
        ({"MARIADB_PASSWORD_FILE": "./docker/dev-db-password"}, "db_password_file"),
    ],
    ids=["default", "value", "file"],
)
def test_with_the_profile_both_services_read_one_password_file(settings, source):
    config = _database_config(COMPOSE_PROFILES="db", **settings)
    web, db = config["services"]["web"], config["services"]["db"]
    assert {k: web["environment"].get(k) for k in SERVICE_ENV} == SERVICE_ENV
    assert not {k for k in web["environment"] if k.startswith("DATABASE_")} - {"DATABASE_SERVICE"}
    assert db["environment"]["MARIADB_PASSWORD_FILE"] == SECRET_FILE
    assert "MARIADB_PASSWORD" not in db["environment"]
    for service in (web, db):
        mounted = {s["target"]: s["source"] for s in service["secrets"]}
        assert mounted["db_password"] == source, service["secrets"]
    assert set(config["secrets"][source]) & {"file", "environment"}
    if "MARIADB_PASSWORD" in settings:
        assert config["secrets"][source]["environment"] == "MARIADB_PASSWORD"


def test_without_the_profile_the_app_is_told_the_same_and_finds_no_server():
    """The app decides when it starts: the service it is told of is not running then."""
    config = _database_config()
    assert "db" not in config["services"]
    env = config["services"]["web"]["environment"]
    assert {k: env.get(k) for k in SERVICE_ENV} == SERVICE_ENV


def test_a_password_given_as_value_and_file_stops_compose():
    both = {"MARIADB_PASSWORD": "x", "MARIADB_PASSWORD_FILE": "./docker/dev-db-password"}
    result = _compose("config", "-q", COMPOSE_PROFILES="db", **both)
    assert result.returncode != 0
    assert "undefined secret db_password_value_file" in result.stderr, result.stderr
