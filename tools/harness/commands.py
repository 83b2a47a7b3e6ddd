"""Running commands: unique names, a clear error with the output, the pinned host tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

# tools/node_modules/.bin: the Dev Containers CLI that tools/package.json pins.
NODE_BIN = Path(__file__).resolve().parents[1] / "node_modules" / ".bin"


def unique(prefix: str) -> str:
    """A name no other test run uses (compose projects, containers, volumes, tags)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 120,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    replace_env: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, and fail with that output when it fails. ``env`` adds
    to this process's environment, or with ``replace_env`` is the whole environment."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else env if replace_env else {**os.environ, **env},
        input=input,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"command failed: {describe(result)}")
    return result


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A finished command for an assertion message: exit code, command, the ends of its output."""
    command = " ".join(map(str, result.args))
    return (
        f"exit {result.returncode}: {command}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def find_tool(name: str) -> str | None:
    """A pinned test tool: next to this Python first (the test venv's, even when it is not
    activated), then tools/node_modules/.bin (the Dev Containers CLI), then PATH."""
    search = os.pathsep.join(
        [
            str(Path(sys.executable).parent),
            str(NODE_BIN),
            os.environ.get("PATH", ""),
        ]
    )
    return shutil.which(name, path=search)


def host_tool(name: str) -> str:
    """A test tool from tools/requirements.txt (see find_tool); a clear failure when missing."""
    found = find_tool(name)
    assert found, f"{name} is missing: pip install -r tools/requirements.txt (scripts/test does)"
    return found
