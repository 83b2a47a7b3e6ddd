"""dev/preload.py: what a standby learns to import, and how it imports it."""

import sys
import types
from pathlib import Path

import pytest

from dev import preload


@pytest.fixture
def modules_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "run" / "modules"
    path.parent.mkdir()
    monkeypatch.setenv(preload.MODULES_ENV, str(path))
    return path


def fake_module(monkeypatch, name: str, file: Path | None) -> None:
    module = types.ModuleType(name)
    if file is not None:
        module.__file__ = str(file)
    monkeypatch.setitem(sys.modules, name, module)


def test_libraries_are_what_was_imported_since_except_the_projects_own(tmp_path, monkeypatch):
    root = tmp_path / "project"
    since = frozenset(sys.modules)
    fake_module(monkeypatch, "berth_fake_lib", tmp_path / "site-packages" / "lib.py")
    fake_module(monkeypatch, "app.berth_fake", root / "app" / "berth_fake.py")
    fake_module(monkeypatch, "berth_fake_builtin", None)
    assert preload.libraries(root, since) == ["berth_fake_lib"]


def test_learning_adds_and_never_forgets(tmp_path, monkeypatch, modules_file):
    root = tmp_path / "project"
    modules_file.write_text("berth_fake_old\n")
    fake_module(monkeypatch, "berth_fake_new", tmp_path / "lib" / "new.py")
    monkeypatch.setattr(preload, "_before", frozenset(sys.modules) - {"berth_fake_new"})
    preload.learn(root)
    assert preload.learned() == ["berth_fake_old", "berth_fake_new"]
    monkeypatch.delitem(sys.modules, "berth_fake_new")
    preload.learn(root)  # a process that imported less (its app failed half-way)
    assert preload.learned() == ["berth_fake_old", "berth_fake_new"]
    assert [p.name for p in modules_file.parent.iterdir()] == ["modules"]  # no partial file left


def test_a_standby_imports_what_was_learned_and_skips_what_is_gone(
    tmp_path, monkeypatch, modules_file
):
    (tmp_path / "berth_fake_learned.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules_file.write_text("berth_fake_uninstalled\nberth_fake_learned\n")
    monkeypatch.delitem(sys.modules, "berth_fake_learned", raising=False)
    monkeypatch.setattr(preload, "_thread", None)
    preload.finish()
    assert sys.modules["berth_fake_learned"].LOADED
    assert "berth_fake_uninstalled" not in sys.modules
    monkeypatch.delitem(sys.modules, "berth_fake_learned")


def test_without_anything_learned_the_first_standby_imports_what_every_app_needs(
    monkeypatch, modules_file
):
    assert preload.learned() == []  # no file yet
    imported = []
    monkeypatch.setattr(preload.importlib, "import_module", imported.append)
    monkeypatch.setattr(preload, "_thread", None)
    monkeypatch.setattr(preload.sys, "modules", {})
    preload.finish()
    assert imported == list(preload.FIRST)
