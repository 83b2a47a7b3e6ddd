"""The editor files agree with the dev stack: no engine needed, so this runs everywhere.

The debugger's path mapping (.vscode/launch.json), the dev container's workspace folder
(.devcontainer/devcontainer.json) and the compose bind mount target (docker-compose.dev.yml)
must be one and the same directory, or breakpoints silently never hit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
LAUNCH = ROOT / ".vscode" / "launch.json"
COMPOSE = ROOT / "docker-compose.dev.yml"
DOCKERFILE = ROOT / "Dockerfile"
ATTACH_CONFIG = "Attach to berth (container)"

# A JSON string (with escapes), a // line comment, a /* block */ comment, or anything else.
_JSONC_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/|.', re.DOTALL)
_TRAILING_COMMA = re.compile(r'("(?:\\.|[^"\\])*")|,(\s*[}\]])')


def load_jsonc(text: str) -> object:
    """JSON with comments and trailing commas, as VS Code reads it; strings are left intact."""
    kept = []
    for match in _JSONC_TOKEN.finditer(text):
        token = match.group()
        if token.startswith("//"):
            continue
        if token.startswith("/*"):
            kept.append(" ")
            continue
        kept.append(token)
    plain = _TRAILING_COMMA.sub(lambda m: m[1] or m[2], "".join(kept))
    return json.loads(plain)


def test_jsonc_loader_strips_comments_only_outside_strings():
    text = """// a comment
    {
      "url": "http://127.0.0.1:5678", // the "url" // twice
      /* block, with "quotes" */ "glob": "src/**/*.py",
      "escaped": "a \\" // not a comment",
      "list": [1, 2,],
    }
    """
    assert load_jsonc(text) == {
        "url": "http://127.0.0.1:5678",
        "glob": "src/**/*.py",
        "escaped": 'a " // not a comment',
        "list": [1, 2],
    }


@pytest.fixture(scope="module")
def devcontainer() -> dict:
    return load_jsonc(DEVCONTAINER.read_text())


@pytest.fixture(scope="module")
def launch() -> dict:
    return load_jsonc(LAUNCH.read_text())


@pytest.fixture(scope="module")
def attach(launch) -> dict:
    matches = [c for c in launch["configurations"] if c["name"] == ATTACH_CONFIG]
    assert len(matches) == 1, f"launch.json needs one {ATTACH_CONFIG!r} configuration"
    return matches[0]


def compose_web_service() -> str:
    """The `web` service's block of docker-compose.dev.yml (a YAML parser isn't in every venv)."""
    text = COMPOSE.read_text()
    match = re.search(r"^  web:\n((?:    .*\n|\s*\n)+)", text, re.MULTILINE)
    assert match, "docker-compose.dev.yml has no `web` service"
    return match[1]


def bind_mount_target_of_project() -> str:
    """Where the service mounts the project directory (`- .:/app`, short syntax)."""
    targets = re.findall(r"^\s*-\s*['\"]?\.:(/[^:'\"\s]*)", compose_web_service(), re.MULTILINE)
    assert len(targets) == 1, f"expected one bind mount of the project, found {targets}"
    return targets[0]


def test_compose_parsing_finds_the_web_service():
    # Guards the regexes above: they must see the real file's mount and debugpy port.
    block = compose_web_service()
    assert "target: dev" in block
    assert bind_mount_target_of_project().startswith("/")


def test_attach_path_mapping_matches_workspace_folder_and_bind_mount(devcontainer, attach):
    mount_target = bind_mount_target_of_project()
    assert devcontainer["workspaceFolder"] == mount_target
    assert attach["pathMappings"] == [
        {"localRoot": "${workspaceFolder}", "remoteRoot": mount_target}
    ]


def test_attach_connects_to_the_debugpy_port_on_loopback(attach):
    block = compose_web_service()
    # Container side of the published debugger port, and the port the dev server listens on.
    published = re.search(r"127\.0\.0\.1:\$\{DEBUGPY_PORT:-(\d+)\}:(\d+)", block)
    assert published, "docker-compose.dev.yml no longer publishes debugpy on 127.0.0.1"
    listen = re.search(r"^\s*-\s*DEBUGPY_PORT=(\d+)\s*$", block, re.MULTILINE)
    assert listen, "docker-compose.dev.yml no longer sets DEBUGPY_PORT for the container"
    assert attach["connect"] == {"host": "127.0.0.1", "port": int(published[1])}
    # Inside the dev container the same config reaches debugpy directly: same port both sides.
    assert int(published[1]) == int(published[2]) == int(listen[1])


def test_attach_follows_the_reloader_child(attach):
    assert attach["type"] == "debugpy"
    assert attach["request"] == "attach"
    assert attach["subProcess"] is True
    assert attach["justMyCode"] is True


def test_launch_has_test_debugging_configs(launch):
    by_name = {c["name"]: c for c in launch["configurations"]}
    current = by_name["Debug current test file"]
    assert (current["type"], current["request"]) == ("debugpy", "launch")
    assert current["module"] == "pytest"
    assert current["args"] == ["${file}"]
    explorer = [c for c in launch["configurations"] if "debug-test" in c.get("purpose", [])]
    assert len(explorer) == 1
    assert explorer[0]["type"] == "debugpy"


def test_devcontainer_runs_the_compose_service(devcontainer):
    files = devcontainer["dockerComposeFile"]
    assert files[0] == "../docker-compose.dev.yml"
    for name in files:
        assert (DEVCONTAINER.parent / name).is_file(), name
    assert devcontainer["service"] == "web"
    assert devcontainer["runServices"] == ["web"]
    assert devcontainer["overrideCommand"] is False
    assert devcontainer["shutdownAction"] == "stopCompose"
    assert devcontainer["remoteUser"] == "app"
    assert devcontainer["updateRemoteUserUID"] is True


def test_editor_settings_use_the_image_venv_and_container_test_args(devcontainer):
    vscode = devcontainer["customizations"]["vscode"]
    assert {"ms-python.python", "ms-python.debugpy", "charliermarsh.ruff"} <= set(
        vscode["extensions"]
    )
    settings = vscode["settings"]
    venv = re.search(r"VIRTUAL_ENV=(\S+)", DOCKERFILE.read_text())
    assert venv, "Dockerfile no longer sets VIRTUAL_ENV"
    assert settings["python.defaultInterpreterPath"] == f"{venv[1]}/bin/python"
    python = settings["[python]"]
    assert python["editor.defaultFormatter"] == "charliermarsh.ruff"
    assert python["editor.formatOnSave"] is True
    assert set(python["editor.codeActionsOnSave"]) == {
        "source.fixAll.ruff",
        "source.organizeImports.ruff",
    }
    assert settings["python.testing.pytestEnabled"] is True
    assert settings["python.testing.unittestEnabled"] is False
    # The same selection as `pytest` in the container (PYTEST_ADDOPTS in the dev image).
    addopts = re.search(r"PYTEST_ADDOPTS=\"-m '([^']+)'\"", DOCKERFILE.read_text())
    assert addopts, "the Dockerfile no longer sets PYTEST_ADDOPTS"
    assert addopts[1] == "not docker and not integration"
    assert settings["python.testing.pytestArgs"] == ["-m", addopts[1]]
