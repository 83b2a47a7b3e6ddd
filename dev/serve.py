"""The dev server: ``python -m dev.serve``, run from the project root (the image's CMD).

Two processes: the dev server (``dev.supervisor``: the socket, the debugger, restarts) and the
app process it starts (``dev.app_process``: Werkzeug's server and file watcher), again after
every reload. Settings are in ``dev.settings``; how it all works is in docs/debugger.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dev import exit_now
from dev.settings import SettingError, from_environ


def command(debugging: bool) -> list[str]:
    """How each dev server process runs: pydevd needs frozen modules off to see every file
    (without the debugger they stay on: they import faster)."""
    frozen = ["-Xfrozen_modules=off"] if debugging else []
    return [sys.executable, *frozen, "-m", "dev.serve"]


def main() -> None:
    try:
        settings = from_environ()
    except SettingError as exc:
        print(f"dev server: {exc}", file=sys.stderr)
        exit_now(2)
    root = Path.cwd()
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        from dev import app_process

        app_process.run(settings, root)
        return
    if settings.debugpy and sys._xoptions.get("frozen_modules") != "off":
        os.execv(sys.executable, command(True))  # noqa: S606 - the same interpreter, once
    from dev.debugger import Debugger
    from dev.supervisor import Supervisor

    debugger = Debugger(settings.debugpy_port, root) if settings.debugpy else None
    Supervisor(settings, root, command(settings.debugpy), debugger).run()


if __name__ == "__main__":
    main()
