"""dev/app_process.py's watcher(): Werkzeug's reloader loops, entered before the app is imported.

They live in Werkzeug's private ``_reloader`` module; this fails first if an upgrade moves them.
The behaviour (a save while the app imports is not lost) is in tests/integration/test_dev_server.py.
"""

import time
from pathlib import Path

import pytest
from werkzeug._reloader import ReloaderLoop

from dev.app_process import watch_plan, watcher
from dev.settings import from_environ


@pytest.mark.parametrize(("poll", "name"), [("0", "watchdog"), ("1", "stat")])
def test_the_watcher_is_werkzeugs_loop_for_the_setting(tmp_path: Path, poll: str, name: str):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "schema.sql").write_text("")
    loop = watcher(from_environ({"RELOAD_POLL": poll, "RELOAD_INTERVAL": "0.5"}), tmp_path)
    assert isinstance(loop, ReloaderLoop)
    assert loop.name.startswith(name)
    assert loop.interval == 0.5
    assert str(tmp_path / "app" / "schema.sql") in loop.extra_files
    for method in ("__enter__", "__exit__", "run", "run_step"):
        assert callable(getattr(loop, method))
    if name == "watchdog":  # what the planned loop's run_step() uses
        assert hasattr(loop, "observer")
        assert hasattr(loop, "event_handler")
        assert hasattr(loop, "should_reload")


def test_the_plan_watches_the_app_and_the_roots_own_files_not_large_folders(tmp_path: Path):
    for folder in ("app/notes", "app/static/node_modules/x", ".venv/lib", "tools/bench", "docs"):
        (tmp_path / folder).mkdir(parents=True)
    plan = watch_plan(tmp_path)
    assert plan == {
        (str(tmp_path), False),  # setting.py, .env
        (str(tmp_path / "app"), False),  # holds app/static, which holds node_modules
        (str(tmp_path / "app" / "notes"), True),
        (str(tmp_path / "app" / "static"), False),
    }


def test_the_watchdog_loop_watches_the_plan_and_reloads_on_a_save(tmp_path: Path):
    (tmp_path / "app" / "notes").mkdir(parents=True)
    (tmp_path / ".venv").mkdir()
    module = tmp_path / "app" / "notes" / "views.py"
    module.write_text("")
    loop = watcher(from_environ({"RELOAD_INTERVAL": "0.05"}), tmp_path)
    with loop:
        assert set(loop.watches) == watch_plan(tmp_path)
        (tmp_path / ".venv" / "site.py").write_text("")
        time.sleep(0.3)
        assert not loop.should_reload.is_set()
        module.write_text("x = 1\n")
        assert loop.should_reload.wait(5)
