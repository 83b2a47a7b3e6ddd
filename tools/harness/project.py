"""Where the project is, and throwaway copies of it to edit, build and run."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from .commands import run

ROOT = Path(__file__).resolve().parents[2]


# What a copy of the project leaves out: local state that is not part of the product.
# What tests edit: the first line of GET /'s text.
LANDING_FILE = Path("app") / "health.py"

COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "instance",
    "results",
    ".env",
    "secrets",
)


def copy_project(dest: Path) -> Path:
    """A throwaway copy of the working tree, so tests may edit files and build from it."""
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE, symlinks=True)
    return dest


def export_tree(ref: str, dest: Path) -> Path:
    """The project as commit ``ref`` has it (committed files only), to compare against."""
    dest.mkdir(parents=True)
    archive = dest / ".export.tar"
    run(["git", "-C", ROOT, "archive", "--format=tar", "--output", archive, ref])
    run(["tar", "-x", "-f", archive, "-C", dest])
    archive.unlink()
    return dest


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give a folder and everything in it to uid:gid (root only), as a developer owns a checkout."""
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def owned_checkout(root: Path, uid: int | None = None, gid: int | None = None) -> Path:
    """A copy of the project, a git checkout like a developer's, owned by uid:gid (by default,
    by whoever runs the tests)."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    workspace = copy_project(root)
    run(["git", "init", "-q", workspace])
    run(["git", "-C", workspace, "add", "-A"])
    if (uid, gid) != (os.getuid(), os.getgid()):
        chown_tree(workspace, uid, gid)
    return workspace


def edit_landing_page(workspace: Path) -> str:
    """Put a unique marker into GET /'s first line in the host copy; return that line."""
    landing = workspace / LANDING_FILE
    source = landing.read_text()
    marker = f"berth: edited on the host {uuid.uuid4().hex[:10]}"
    edited = re.sub(r"^berth: .*$", marker, source, count=1, flags=re.MULTILINE)
    assert edited != source, f"{LANDING_FILE} no longer starts its text with 'berth: '"
    # Keep the owner: an editor saving a file does not change who owns it.
    owner = landing.stat()
    landing.write_text(edited)
    os.chown(landing, owner.st_uid, owner.st_gid)
    return marker
