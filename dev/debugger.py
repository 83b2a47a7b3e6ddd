"""Debugger wiring: debugpy in the dev server, and in each app process the server starts.

The dev server listens once; each app process it starts gets debugpy injected by debugpy's
subprocess support and is announced to the attached editor, which follows it. How this fails
with real editors, and what berth does about it, is in docs/debugger.md.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from dev import debugpy_fixes, preload, say

# How long an app process waits for an editor to attach to it before it runs undebugged (an
# editor that does not follow subprocesses would hold it forever). Editors take well under 1 s.
CLAIM_TIMEOUT = 3.0
# How long connections may wait unaccepted on the debugger port before the adapter counts as
# wedged and is replaced.
WEDGED_AFTER = 2.0
PREIMPORT_MODULE = "dev.pydevd_preimport"


def adapter_launcher(root: Path) -> str:
    """An executable that runs debugpy's adapter with berth's guard: debugpy starts the adapter
    with ``configure(python=...)``, the one documented way to choose how it is run."""
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from dev.debugpy_fixes import run_adapter; run_adapter()"
    )
    command = " ".join(shlex.quote(part) for part in (sys.executable, "-c", code, str(root)))
    script = f'#!/bin/sh\nexec {command} "$@"\n'
    fd, path = tempfile.mkstemp(prefix="berth-debugpy-adapter-")
    with os.fdopen(fd, "w") as file:
        file.write(script)
    os.chmod(path, 0o755)  # noqa: S103 - ours, in a private temp file, read and run only by us
    return path


class Debugger:
    """debugpy in the dev server process: listen once, and tell when the adapter is lost."""

    def __init__(self, port: int, root: Path) -> None:
        self.port = port
        self.root = root
        self.adapter_pid: int | None = None
        self._backlog_since: float | None = None

    def listen(self) -> None:
        import debugpy

        debugpy.configure(python=adapter_launcher(self.root))
        debugpy.listen(("0.0.0.0", self.port))  # noqa: S104 - in a container; published on loopback
        debugpy_fixes.nodelay_sends()
        debugpy_fixes.preimport_in_children(str(self.root), PREIMPORT_MODULE)
        self.adapter_pid = debugpy_fixes.adapter_pid(self.port)
        # Beside the first app process's start, not before it: the check imports the adapter's
        # modules (0.12 s), which every restart in place would otherwise wait for.
        threading.Thread(target=warn_if_stale, name="berth-debugpy-check", daemon=True).start()

    def wait_for_client(self) -> None:
        import debugpy

        debugpy.wait_for_client()

    def lost(self) -> str | None:
        """Why editors can no longer attach (the adapter exited or stopped accepting), or None.
        A wedged adapter is killed here, so that it frees the port."""
        pid = self.adapter_pid
        if pid is None:
            return None
        if not alive(pid):
            return "the debug adapter exited"
        if accept_backlog(self.port) == 0:
            self._backlog_since = None
            return None
        now = time.monotonic()
        self._backlog_since = self._backlog_since or now
        if now - self._backlog_since < WEDGED_AFTER:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return "the debug adapter stopped accepting connections"


def warn_if_stale() -> None:
    for problem in debugpy_fixes.stale():
        say(f"warning: {problem} (see docs/debugger.md)")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")  # zombie or dead


def accept_backlog(port: int) -> int:
    """Connections waiting to be accepted on a listening TCP ``port`` in this network namespace
    (the rx_queue of a LISTEN socket in /proc/net/tcp is its accept queue)."""
    waiting = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, queues = fields[1], fields[3], fields[4]
                if state == "0A" and int(local.rpartition(":")[2], 16) == port:
                    waiting = max(waiting, int(queues.partition(":")[2], 16))
    return waiting


# -- in each app process (imported by pydevd through dev.pydevd_preimport) -------------------------


def in_app_process() -> None:
    debugpy_fixes.nodelay_sends()
    debugpy_fixes.wake_resumed_threads()
    # Libraries only: the app's own code must be imported under the debugger's tracing.
    preload.start()
    threading.Thread(target=_run_if_unclaimed, name="berth-claim", daemon=True).start()


def _run_if_unclaimed() -> None:
    deadline = time.monotonic() + CLAIM_TIMEOUT
    while time.monotonic() < deadline:
        if debugpy_fixes.is_held() is False:
            return  # an editor attached, or none was attached to hold it
        time.sleep(0.05)
    if debugpy_fixes.is_held():
        debugpy_fixes.release()
        say(
            f"no editor attached to this app process within {CLAIM_TIMEOUT:g} s (does it follow "
            'subprocesses? "subProcess": true); serving without breakpoints until one does'
        )
