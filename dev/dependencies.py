"""Pin changes applied in the running dev container: when the checkout's requirements files no
longer match the pins the venv was built or last synced from, the dev server syncs the venv to
them with uv (``pin-install``: every hash checked) while the app keeps serving, then restarts
the app process on the new environment. A sync that fails changes nothing: the app goes on
serving the previous environment, and the log says why in one line. docs/debugger.md has more.

Only in the dev image: there the venv holds the pins it was built from (``<venv>/pins``, see
the Dockerfile) and ``pin-install`` and ``uv`` are on PATH; anywhere else this does nothing.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dev import say

PIN_FILES = ("requirements.txt", "requirements-dev.txt")  # what the dev venv is built from
INSTALL = "requirements-dev.txt"  # says `-r requirements.txt`: the whole dev venv
SETTLE = 0.3  # seconds the files must stay as they are: scripts/lock writes them one by one
SETTLE_LIMIT = 5.0  # ...but a file rewritten for ever still gets synced after this long
SHOWN_CHANGES = 6  # packages named in the log line


class Pins:
    def __init__(self, root: Path, record: Path | None = None) -> None:
        self.root = root
        self.record = record or Path(sys.prefix) / "pins"
        self.enabled = self.record.is_dir() and bool(shutil.which("pin-install"))
        self.enabled = self.enabled and bool(shutil.which("uv"))
        # The pins last dealt with: synced, or tried and refused. At first, the image's.
        self.handled = self._read(self.record) if self.enabled else {}
        self._stamp: object = None

    def changed(self) -> bool:
        """Whether the checkout's pins differ from the ones last dealt with; a stat per file
        unless something touched them, so it can be asked four times a second."""
        if not self.enabled:
            return False
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        pins = self._read(self.root)
        if pins == self.handled:
            self._stamp = stamp
            return False
        return True

    def apply(self, cancelled: Callable[[], bool]) -> bool:
        """Sync the venv to the checkout's pins; True when it changed and the app process should
        be restarted on it."""
        pins = self._settled()
        self._stamp = self._stat()
        if pins == self.handled:
            return False
        self.handled = pins
        if pins == self._read(self.record):  # back to what is installed, e.g. after a refusal
            say("pins back to the installed ones: nothing to sync")
            return False
        if not all(pins.values()):
            missing = ", ".join(name for name, text in pins.items() if not text)
            say(f"pins not synced: {missing} missing or empty; still serving the old environment")
            return False
        say("pins changed (requirements*.txt): syncing the venv with uv, the app keeps serving")
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="berth-pins-") as folder:
            # uv reads a copy, so an editor saving again meanwhile cannot hand it half a file.
            for name, text in pins.items():
                Path(folder, name).write_text(text)
            code, output = _sync(Path(folder, INSTALL), cancelled)
            if code != 0:
                lines = [line for line in output.splitlines() if line.strip()]
                why = lines[-1].removeprefix("pin-install: ") if lines else f"exit code {code}"
                say(f"pins not synced: {why}; still serving the old environment")
                return False
            self.record.mkdir(parents=True, exist_ok=True)
            for name in PIN_FILES:
                shutil.copyfile(Path(folder, name), self.record / name)
        say(
            f"pins synced in {time.monotonic() - start:.1f} s ({_changes(output)}); restarting "
            "the app process. `up --build` bakes them into the image"
        )
        return True

    def _settled(self) -> dict[str, str]:
        pins = self._read(self.root)
        deadline = time.monotonic() + SETTLE_LIMIT
        while time.monotonic() < deadline:
            time.sleep(SETTLE)
            again = self._read(self.root)
            if again == pins:
                break
            pins = again
        return pins

    def _stat(self) -> tuple:
        stamps = []
        for name in PIN_FILES:
            try:
                info = (self.root / name).stat()
                stamps.append((info.st_mtime_ns, info.st_size, info.st_ino))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    @staticmethod
    def _read(folder: Path) -> dict[str, str]:
        texts = {}
        for name in PIN_FILES:
            try:
                texts[name] = (folder / name).read_text()
            except (OSError, UnicodeDecodeError):
                texts[name] = ""
        return texts


def _sync(requirements: Path, cancelled: Callable[[], bool]) -> tuple[int, str]:
    """``pin-install uv pip sync``: the venv becomes exactly these pins, hash-checked; the new
    files are byte-compiled (uv skips the ones already compiled)."""
    command = ["pin-install", "uv", "pip", "sync", "--require-hashes", "--compile-bytecode"]
    with tempfile.TemporaryFile("w+") as output:
        # Not a Python command line, so debugpy's subprocess support leaves it alone.
        process = subprocess.Popen(  # noqa: S603
            [*command, str(requirements)],
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
                break
            if cancelled():
                process.kill()
                process.wait()
                break
        output.seek(0)
        return process.returncode, output.read()


def _changes(output: str) -> str:
    """uv's ` + name==version` / ` - name==version` lines, shortened."""
    changes = re.findall(r"^ ([-+~]) (\S+)", output, re.MULTILINE)
    if not changes:
        return "nothing to install"
    shown = [sign + name for sign, name in changes[:SHOWN_CHANGES]]
    if len(changes) > SHOWN_CHANGES:
        shown.append(f"and {len(changes) - SHOWN_CHANGES} more")
    return ", ".join(shown)
