"""Pin changes in a copy of the project, for the tests and benchmarks of dependency updates: a
tiny pure-Python package to add (six, in neither the runtime nor the dev pins), its pins with
PyPI's real hashes, a pin whose hash does not match, and a probe that makes GET / tell what
the serving app process imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .net import http
from .project import LANDING_FILE

PACKAGE = "six"
VERSION = "1.17.0"
# `six==1.17.0` as scripts/lock pins it: PyPI's sha256 of its wheel and of its sdist.
PIN = (
    "six==1.17.0 \\\n"
    "    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274 \\\n"
    "    --hash=sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81\n"
)
# The release before, with a hash no file of it has: what a tampered or mistyped pin looks like.
BROKEN_PIN = "six==1.16.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
PIN_BLOCK = re.compile(r"^six==\S+ \\\n(?:    --hash=\S+(?: \\)?\n)+", re.MULTILINE)
PROBE = re.compile(r"^probe: (\S+) (\S+)$", re.MULTILINE)


def set_pin(workspace: Path, block: str | None) -> None:
    """Put ``block`` (a pin with its hashes) into requirements.txt in place of six's pin, or
    remove that pin (None): in one write, keeping the file's owner, as an editor saves."""
    path = workspace / "requirements.txt"
    text = PIN_BLOCK.sub("", path.read_text())
    owner = path.stat()
    path.write_text(text + (block or ""))
    os.chown(path, owner.st_uid, owner.st_gid)


PROBE_MARK = "# Added by a test: what this app process could import when it started."


def add_import_probe(workspace: Path, module: str = PACKAGE) -> None:
    """GET / ends with `probe: <module> <version>` (or `missing`), decided when the app process
    imports the app: it shows what the serving process could import when it started."""
    landing = workspace / LANDING_FILE
    landing.write_text(with_import_probe(landing.read_text(), module))


def with_import_probe(source: str, module: str = PACKAGE) -> str:
    """The landing module's ``source`` with the probe of ``add_import_probe``."""
    probe = f"""

{PROBE_MARK}
try:
    import importlib.metadata as _metadata

    import {module} as _probed  # noqa: F401

    INDEX_TEXT += "probe: {module} " + _metadata.version("{module}") + "\\n"
except ImportError:
    INDEX_TEXT += "probe: {module} missing\\n"
"""
    anchor = '\n\n@bp.get("/")'
    assert anchor in source, f"{LANDING_FILE} no longer defines GET / after INDEX_TEXT"
    return source.replace(anchor, probe + anchor, 1)


def served_version(url: str, module: str = PACKAGE) -> str | None:
    """The probe's answer: the version the serving app process imported, 'missing', or None
    when GET / does not answer with a probe."""
    try:
        answer = http("GET", url + "/", timeout=3)
    except OSError:
        return None
    found = dict(PROBE.findall(answer.body.decode(errors="replace")))
    return found.get(module) if answer.status == 200 else None
