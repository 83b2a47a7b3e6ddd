"""Static checks of docker-compose.dev.yml: compose accepts it, it matches the Compose
Specification's JSON schema, and the resolved config publishes both ports on 127.0.0.1 only.

Neither tool needs the engine (only the docker CLI with Compose v2, and check-jsonschema from
tools/requirements.txt); each check is also run on a broken copy, so a tool that silently accepted
everything would fail here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tools.harness.commands import host_tool, run
from tools.harness.project import ROOT

COMPOSE_FILE = ROOT / "docker-compose.dev.yml"


def _env(**settings: str) -> dict[str, str]:
    """The caller's environment without what would change the file's meaning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    for name in ("APP_PORT", "DEBUGPY_PORT"):
        env.pop(name, None)
    env.update(settings)
    return env


def _compose(*args: str, compose_file: Path = COMPOSE_FILE, **settings: str):
    return subprocess.run(
        ["docker", "compose", "-f", str(compose_file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=_env(**settings),
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
    assert sorted((p["target"], p.get("host_ip"), p["published"]) for p in ports) == [
        (5678, "127.0.0.1", debugpy),
        (8000, "127.0.0.1", app),
    ], ports
