"""Preloading: a standby app process imports, before it is told to serve, every library the
app processes before it imported, so that a reload only costs importing the app itself.

What to import is learned, not listed: an app process that has loaded the app adds the names of
the modules it imported besides its own code (the app's and the dev server's) to the file the
dev server names in ``BERTH_MODULES``, in the order they were first imported, and again on exit
if serving requests imported more; the next standby imports them. So a library a team adds
tomorrow (a driver, an SDK) is preloaded from the reload after the one that first imported it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import sysconfig
import threading
from pathlib import Path

MODULES_ENV = "BERTH_MODULES"  # the file of learned module names, one per line
# Before anything is learned (the first app process): what every app needs.
FIRST = ("flask", "werkzeug.serving", "watchdog.observers")
# Installed code, even where it lies under the project root (a local .venv).
_INSTALLED = tuple(
    {p for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_path(k))}
)
# What this process had imported before it preloaded anything: the dev server's own needs.
_before = frozenset(sys.modules)
_thread: threading.Thread | None = None


def start() -> None:
    """Preload in a thread: under the debugger it overlaps with the editor's attach."""
    global _thread
    _thread = threading.Thread(target=_run, name="berth-preload", daemon=True)
    _thread.start()


def finish(timeout: float = 30) -> None:
    """Preload here, or wait for the thread ``start()`` began: the same package imported in two
    threads at once can fail (KeyError from importlib, seen with werkzeug)."""
    if _thread is None:
        _run()
    else:
        _thread.join(timeout)


def _run() -> None:
    """Import the learned modules (or FIRST); never raises. A module that no longer imports
    (uninstalled, renamed) is skipped: the app will say what is missing when it imports."""
    for name in learned() or FIRST:
        if name not in sys.modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def learned() -> list[str]:
    path = os.environ.get(MODULES_ENV)
    if not path:
        return []
    try:
        return Path(path).read_text().split()
    except OSError:
        return []


def libraries(root: Path, since: frozenset[str] | None = None) -> list[str]:
    """The modules imported after ``since`` (by default: since this process started, before
    it preloaded) that are not the project's own code, in the order they were first imported."""
    since = _before if since is None else since
    own = str(root) + os.sep
    names = []
    for name, module in list(sys.modules.items()):
        if name in since:
            continue
        path = getattr(module, "__file__", None)
        if not path or (path.startswith(own) and not path.startswith(_INSTALLED)):
            continue
        names.append(name)
    return names


def learn(root: Path) -> None:
    """Add this process's libraries to the learned ones, for the next standby. The list only
    grows: a process whose app failed half-way through its imports must not shorten it. It is
    written whole, then renamed, so that a standby never reads half a list."""
    path = os.environ.get(MODULES_ENV)
    if not path:
        return
    known = learned()
    seen = set(known)
    names = known + [name for name in libraries(root) if name not in seen]
    if len(names) == len(known):
        return
    with contextlib.suppress(OSError):
        partial = f"{path}.{os.getpid()}"
        Path(partial).write_text("\n".join(names) + "\n")
        os.replace(partial, path)
