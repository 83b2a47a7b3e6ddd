"""dev/app_process.py's watcher(): Werkzeug's reloader loops, entered before the app is imported.

They live in Werkzeug's private ``_reloader`` module; this fails first if an upgrade moves them.
The behaviour (a save while the app imports is not lost) is in tests/integration/test_dev_server.py.
"""

from pathlib import Path

import pytest
from werkzeug._reloader import ReloaderLoop

from dev.app_process import watcher
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
    for method in ("__enter__", "__exit__", "run"):
        assert callable(getattr(loop, method))
