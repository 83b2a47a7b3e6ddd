"""dev/dependencies.py on its own: when a pin change counts, what runs, what is recorded and
said. `pin-install` is a stand-in script here (the real one runs in tests/docker)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from dev import dependencies
from dev.dependencies import PIN_FILES, Pins

RUNTIME = "flask==3.1.3 \\\n    --hash=sha256:aaaa\n"
DEV = "-r requirements.txt\npytest==9.2.0 \\\n    --hash=sha256:bbbb\n"
ADDED = "six==1.17.0 \\\n    --hash=sha256:cccc\n"
UV_OUTPUT = "Resolved 3 packages in 10ms\nInstalled 1 package in 2ms\n + six==1.17.0\n"
FAKE = """#!/bin/sh
printf '%s\\n' "$@" >"$FAKE_DIR/args"
for last in "$@"; do :; done
cat "$(dirname "$last")/requirements.txt" "$last" >"$FAKE_DIR/seen"
cat "$FAKE_DIR/output"
exit "$(cat "$FAKE_DIR/code")"
"""


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Path:
    """A `pin-install` (and `uv`) on PATH that records what it was given and answers as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("pin-install", FAKE), ("uv", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DIR", str(tmp_path))
    monkeypatch.setattr(dependencies, "SETTLE", 0.01)
    answer(tmp_path, 0, UV_OUTPUT)
    return tmp_path


def answer(fake_dir: Path, code: int, output: str) -> None:
    (fake_dir / "code").write_text(str(code))
    (fake_dir / "output").write_text(output)


@pytest.fixture
def pins(tmp_path, fake) -> Pins:
    """A checkout and a venv record with the same pins."""
    for folder in (tmp_path / "checkout", tmp_path / "record"):
        folder.mkdir()
        (folder / "requirements.txt").write_text(RUNTIME)
        (folder / "requirements-dev.txt").write_text(DEV)
    return Pins(tmp_path / "checkout", tmp_path / "record")


def never() -> bool:
    return False


def test_does_nothing_outside_the_dev_image(tmp_path):
    pins = Pins(tmp_path, tmp_path / "no-record")
    (tmp_path / "requirements.txt").write_text(ADDED)
    assert not pins.enabled
    assert not pins.changed()


def test_same_pins_are_no_change_even_when_saved_again(pins):
    assert pins.enabled
    assert not pins.changed()
    (pins.root / "requirements.txt").write_text(RUNTIME)
    assert not pins.changed()


def test_new_pins_are_synced_from_a_copy_and_recorded(pins, fake, capsys):
    (pins.root / "requirements.txt").write_text(RUNTIME + ADDED)
    assert pins.changed()
    assert pins.apply(never)
    args = (fake / "args").read_text().split()
    assert args[:5] == ["uv", "pip", "sync", "--require-hashes", "--compile-bytecode"]
    assert Path(args[-1]).name == "requirements-dev.txt"
    assert not Path(args[-1]).is_relative_to(pins.root)  # a copy, not the checkout's file
    assert (fake / "seen").read_text() == RUNTIME + ADDED + DEV
    assert (pins.record / "requirements.txt").read_text() == RUNTIME + ADDED
    assert not pins.changed()
    log = capsys.readouterr().err
    assert "pins changed (requirements*.txt): syncing the venv with uv" in log
    assert "(+six==1.17.0); restarting the app process" in log


def test_a_failed_sync_is_one_line_and_not_retried_until_the_next_change(pins, fake, capsys):
    record = (pins.record / "requirements.txt").read_text()
    answer(fake, 1, "Resolved 3 packages\npin-install: Hash mismatch for `six==1.17.0`\n")
    (pins.root / "requirements.txt").write_text(RUNTIME + ADDED)
    assert pins.changed()
    assert not pins.apply(never)
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == (
        " * pins not synced: Hash mismatch for `six==1.17.0`; still serving the old environment"
    )
    assert (pins.record / "requirements.txt").read_text() == record
    assert not pins.changed()
    # Put back as installed: nothing to run.
    (fake / "args").unlink()
    (pins.root / "requirements.txt").write_text(RUNTIME)
    assert pins.changed()
    assert not pins.apply(never)
    assert "pins back to the installed ones" in capsys.readouterr().err
    assert not (fake / "args").exists()


def test_a_missing_file_is_refused(pins, fake, capsys):
    (pins.root / "requirements-dev.txt").unlink()
    assert pins.changed()
    assert not pins.apply(never)
    assert "requirements-dev.txt missing or empty" in capsys.readouterr().err
    assert not (fake / "args").exists()


def test_waits_for_the_files_to_settle(pins, fake, monkeypatch):
    """scripts/lock writes one file after the other: the sync sees the last state."""
    writes = iter([RUNTIME + ADDED, RUNTIME + ADDED + "# and more\n"])
    sleep = dependencies.time.sleep

    def write_while_settling(seconds):
        text = next(writes, None)
        if text is not None:
            (pins.root / "requirements.txt").write_text(text)
        sleep(seconds)

    monkeypatch.setattr(dependencies.time, "sleep", write_while_settling)
    (pins.root / "requirements.txt").write_text(RUNTIME)
    (pins.root / "requirements.txt").write_text(RUNTIME + "# first\n")
    assert pins.apply(never)
    assert (fake / "seen").read_text().startswith(RUNTIME + ADDED + "# and more\n")


def test_a_stop_ends_the_sync(pins, fake):
    answer(fake, 0, "")
    (fake / "bin" / "pin-install").write_text("#!/bin/sh\nexec sleep 30\n")
    (pins.root / "requirements.txt").write_text(RUNTIME + ADDED)
    assert not pins.apply(lambda: True)


def test_the_dev_image_records_these_pin_files():
    """The Dockerfile keeps the pins the dev venv was built from where the dev server looks."""
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    for name in PIN_FILES:
        assert f"COPY {name} /opt/venv/pins/" in dockerfile, name
    # The dev venv is synced to exactly the recorded pins (not to a copy elsewhere).
    assert re.search(
        r"pip sync --require-hashes [^\n]*\\\n\s*/opt/venv/pins/requirements-dev.txt", dockerfile
    )
