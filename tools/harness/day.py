"""A developer's working day against a dev stack, scripted and seeded: saves written the ways
editors write them, syntax errors and their fixes, debug sessions left in every way an editor
leaves them (each followed at once by a new attach), port checks, a killed debug adapter, pin
changes. The benchmark (tools/bench/day.py) times it; tests/docker/test_day.py runs a short one
and checks what must always hold.

Each action returns ``Outcome`` records: what was timed (a save until served, an attach until
stopped at its breakpoint, a recovery, a pin change), what came just before, and whether it
worked. A failure is recorded, not raised, so that a day goes on as a developer's would.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

from . import devlog, editors, pins
from .dap import LEAVINGS, DapError, DebugSession
from .docker import inspect
from .net import http
from .project import LANDING_FILE

SERVED_WITHIN = 20.0  # seconds a save may take before it counts as lost
# What a day is made of, and how often (weights). Saves dominate, as in a real day.
SAVES = {
    "in place": 24,  # most editors: truncate and write in one go
    "atomic rename": 10,  # a temp file renamed over the module (VS Code, JetBrains, vim's default)
    "vim": 4,  # the module renamed to a backup, a new file written, the backup deleted
    "truncate, then write": 8,  # the empty file is visible for a moment
    "two saves 30 ms apart": 6,
    "format on save": 5,  # a save, then the formatter's save 50-150 ms later
    "branch switch": 2,  # every module touched at once, one file added and one removed
}
# How an attached editor leaves (dap.LEAVINGS, or at a breakpoint); a new one attaches at once.
LEAVE_WAYS = (*LEAVINGS, "vanish at a breakpoint")
OTHER = {
    "syntax error": 4,  # a broken save (a JSON 500), then its fix
    "attach": 8,  # an editor attaches and stops at a breakpoint
    "breakpoint": 8,  # the attached editor stops at a breakpoint again
    **{f"leave: {how}": 2 for how in LEAVE_WAYS},
    "crash mid-attach": 2,
    "no-follow client": 2,  # a client with "subProcess": false stays attached for a while
    "port checks": 3,
    "kill adapter": 1,
    "pin change": 1,
}
INDEX_LINE = re.compile(r"^berth: .*$", re.MULTILINE)


@dataclass
class Outcome:
    kind: str  # "save", "attach", "recovery", "pin"
    label: str  # how: the save's style, the way the last editor left, ...
    after: str  # the action that came just before
    attached: str  # the editor attached meanwhile: "none", "following", "not following"
    seconds: float | None
    ok: bool
    detail: str = ""
    at: float = field(default_factory=time.time)  # when it was recorded, to find it in the logs


@dataclass
class Day:
    """One day on one dev stack (``editors.ServiceTarget`` plus its log and container)."""

    target: editors.ServiceTarget
    container: str
    seed: int
    think: tuple[float, float] = (0.4, 1.2)  # seconds between actions
    outcomes: list[Outcome] = field(default_factory=list)
    kills: int = 0
    session: DebugSession | None = None
    follows: bool = False
    previous: str = "start"
    _pinned: bool = False

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.workspace = self.target.workspace
        self.landing = self.workspace / LANDING_FILE
        self.pristine = self.landing.read_text()
        self.started_at = inspect(self.container, "{{.State.StartedAt}}")

    # -- the plan ----------------------------------------------------------------------------------

    @staticmethod
    def plan(seed: int, count: int, every: bool = False) -> list[str]:
        """``count`` actions, drawn by weight with ``seed``; the same for every stack. With
        ``every``, each kind of action comes at least once."""
        pick = random.Random(seed)
        weights = {**{f"save: {s}": w for s, w in SAVES.items()}, **OTHER}
        actions = pick.choices(list(weights), weights=list(weights.values()), k=count)
        if every:
            actions = [*weights, *actions[len(weights) :]]
            pick.shuffle(actions)
        # The pin is changed and changed back, so that a day ends on the image's pins.
        if actions.count("pin change") % 2:
            actions.append("pin change")
        return actions

    def step(self, action: str) -> None:
        """Do ``action``, record what it gave, then pause as a developer does."""
        try:
            if action.startswith("save: "):
                self.save(action.removeprefix("save: "))
            elif action.startswith("leave: "):
                self.leave(action.removeprefix("leave: "))
            else:
                getattr(self, "do_" + action.replace(" ", "_").replace("-", "_"))()
        except Exception as exc:  # recorded: the day goes on
            self.record("error", action, None, False, f"{exc.__class__.__name__}: {exc}"[:300])
        self.previous = action
        time.sleep(self.random.uniform(*self.think))

    def finish(self) -> dict:
        """Leave the last session; what the day did to the dev server and its container."""
        self._leave_politely()
        log = self.target.log()
        restarts = log.count(devlog.RESTARTED)
        return {
            "restarts in place": restarts,
            "restarts in place not caused by a killed adapter": max(0, restarts - self.kills),
            "unclaimed app processes": log.count(devlog.UNCLAIMED),
            "container restarts": int(inspect(self.container, "{{.RestartCount}}"))
            + (inspect(self.container, "{{.State.StartedAt}}") != self.started_at),
            "container running": inspect(self.container, "{{.State.Running}}") == "true",
        }

    # -- saves -------------------------------------------------------------------------------------

    def save(self, style: str) -> None:
        marker = self._marker()
        text = self._with_marker(marker)
        start = time.monotonic()
        if style == "two saves 30 ms apart":
            self._write(self._with_marker(self._marker()), "in place")
            time.sleep(0.03)
            self._write(text, "in place")
        elif style == "format on save":
            self._write(self._with_marker(marker + " ") + "\n\n", "in place")
            time.sleep(self.random.uniform(0.05, 0.15))
            self._write(text, "in place")
        elif style == "branch switch":
            self._switch_branch(text)
        else:
            self._write(text, style)
        self._served(marker, start, style)

    def _served(self, marker: str, start: float, label: str, kind: str = "save") -> None:
        deadline = start + SERVED_WITHIN
        wanted = f"{marker}\n".encode()
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, HTTPException):
                answer = http("GET", self.target.url + "/", timeout=5)
                if answer.status == 200 and wanted in answer.body:
                    self.record(kind, label, time.monotonic() - start, True)
                    return
            time.sleep(0.01)
        self.record(kind, label, None, False, f"not served within {SERVED_WITHIN:g} s")

    def _marker(self) -> str:
        return f"berth: day {uuid.uuid4().hex[:10]}"

    def _with_marker(self, marker: str) -> str:
        return INDEX_LINE.sub(marker, self.pristine, count=1)

    def _write(self, text: str, style: str, path: Path | None = None) -> None:
        """Save ``text`` the way an editor of ``style`` does, keeping the file's owner."""
        path = path or self.landing
        owner = path.stat()
        if style == "in place":
            path.write_text(text)
        elif style == "atomic rename":
            temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
            temporary.write_text(text)
            os.chown(temporary, owner.st_uid, owner.st_gid)
            os.replace(temporary, path)
        elif style == "vim":
            backup = path.with_name(path.name + "~")
            os.replace(path, backup)
            path.write_text(text)
            os.chown(path, owner.st_uid, owner.st_gid)
            backup.unlink()
        elif style == "truncate, then write":
            with path.open("r+") as file:
                file.truncate(0)
                file.flush()
                os.fsync(file.fileno())
                time.sleep(self.random.uniform(0.01, 0.05))
                file.write(text)
        else:
            raise ValueError(f"no save style {style!r}")
        os.chown(path, owner.st_uid, owner.st_gid)

    def _switch_branch(self, landing_text: str) -> None:
        """What `git switch` does to the tree: every module rewritten, a file added, one gone."""
        app = self.workspace / "app"
        for module in sorted(app.rglob("*.py")):
            if module != self.landing:
                self._write(module.read_text(), "in place", module)
        extra = app / "branch_only.py"
        if extra.exists():
            extra.unlink()
        else:
            extra.write_text('"""A module that exists on the other branch only."""\n')
        self._write(landing_text, "in place")

    def do_syntax_error(self) -> None:
        """A save that does not compile: a JSON 500 naming it; then the fix, timed."""
        start = time.monotonic()
        self._write(self.pristine.replace("bp = Blueprint(", "bp = Blueprint((", 1), "in place")
        deadline = start + SERVED_WITHIN
        broken = False
        while time.monotonic() < deadline and not broken:
            with contextlib.suppress(OSError, HTTPException, ValueError, KeyError):
                answer = http("GET", self.target.url + "/", timeout=5)
                broken = answer.status == 500 and "SyntaxError" in answer.json()["error"]["detail"]
            time.sleep(0.01)
        seconds = time.monotonic() - start if broken else None
        self.record("save", "syntax error: its JSON 500", seconds, broken)
        self.previous = "syntax error"
        time.sleep(self.random.uniform(*self.think))
        self.save("in place")

    # -- the debugger ------------------------------------------------------------------------------

    def do_attach(self) -> None:
        self._leave_politely()
        self._attach_and_stop("attach")

    def do_breakpoint(self) -> None:
        if self.session is None or not self.follows:
            self.do_attach()
            return
        self._stop(self.session, "breakpoint")

    def leave(self, how: str) -> None:
        """The attached editor leaves (one of LEAVE_WAYS); a new one attaches at once and stops
        at its breakpoint."""
        if self.session is None or not self.follows:
            self._leave_politely()
            self._attach_and_stop("attach", record=False)
        session, self.session = self.session, None
        if session is None:
            self.record("attach", "attach", None, False, "no editor attached to leave")
            return
        if how == "vanish at a breakpoint":
            request = threading.Thread(target=self.target.request, daemon=True)
            request.start()
            session.wait_stopped(timeout=30)
            session.close("close")
            request.join(timeout=editors.RECOVERY_SECONDS)
            if request.is_alive():
                self.record("attach", how, None, False, "the stopped request never finished")
        else:
            session.close(how)
        self.previous = f"leave: {how}"
        self._attach_and_stop(f"right after: {how}")

    def do_crash_mid_attach(self) -> None:
        self._leave_politely()
        editors.attach_and_crash(self.target)
        self.previous = "crash mid-attach"
        self._attach_and_stop("right after: crash mid-attach")

    def do_no_follow_client(self) -> None:
        """A client that does not follow app processes; the next saves happen with it."""
        self._leave_politely()
        self.session = editors.session(self.target, follow_children=False)
        self.session.start()
        self.follows = False

    def do_port_checks(self) -> None:
        editors.probe(self.target)

    def do_kill_adapter(self) -> None:
        """The adapter dies; timed until a new attach stops at its breakpoint (with retries,
        as a developer would retry), then that editor stays attached."""
        self.session = None  # its connections die with the adapter
        self.kills += 1
        start = time.monotonic()
        self.target.kill_adapter()
        try:
            editors.attach_and_hit(self.target, retry_until=start + 30)
            self.record("recovery", "adapter killed", time.monotonic() - start, True)
        except (DapError, AssertionError, OSError) as exc:
            self.record("recovery", "adapter killed", None, False, repr(exc)[:300])

    def do_pin_change(self) -> None:
        """Add six's pin (or remove it again); timed until the serving app imports it (or
        cannot), through the probe on GET /. The probe goes into the pristine text, so that
        every later save keeps it."""
        if pins.PROBE_MARK not in self.pristine:
            self.pristine = pins.with_import_probe(self.pristine)
            self._write(self.pristine, "in place")
            self._served_probe("missing")
        self._pinned = not self._pinned
        expected = pins.VERSION if self._pinned else "missing"
        start = time.monotonic()
        pins.set_pin(self.workspace, pins.PIN if self._pinned else None)
        self._served_probe(expected, start)

    def _served_probe(self, expected: str, start: float | None = None) -> None:
        begin = time.monotonic() if start is None else start
        deadline = begin + 120
        while time.monotonic() < deadline:
            if pins.served_version(self.target.url) == expected:
                if start is not None:
                    label = "pin added" if expected != "missing" else "pin removed"
                    self.record("pin", label, time.monotonic() - start, True)
                return
            time.sleep(0.05)
        if start is not None:
            self.record("pin", f"pin to {expected}", None, False, "not applied within 120 s")

    # -- sessions ----------------------------------------------------------------------------------

    def _attach_and_stop(self, label: str, record: bool = True) -> None:
        """A following editor attaches and stops at its breakpoint (no retry), then stays."""
        start = time.monotonic()
        session = editors.session(self.target)
        try:
            session.start()
            self.session, self.follows = session, True
            self._stop(session, label, start, record)
        except (DapError, AssertionError, OSError) as exc:
            if record:
                self.record("attach", label, None, False, repr(exc)[:300])
            with contextlib.suppress(Exception):
                session.close("close")
            self.session = None

    def _stop(
        self, session: DebugSession, label: str, start: float | None = None, record: bool = True
    ) -> None:
        start = time.monotonic() if start is None else start
        try:
            editors.hit(self.target, session)
        except (DapError, AssertionError, OSError) as exc:
            if record:
                self.record("attach", label, None, False, repr(exc)[:300])
            return
        if record:
            self.record("attach", label, time.monotonic() - start, True)

    def _leave_politely(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.close("disconnect")

    # -- records -----------------------------------------------------------------------------------

    def record(
        self, kind: str, label: str, seconds: float | None, ok: bool, detail: str = ""
    ) -> None:
        attached = "none"
        if self.session is not None:
            attached = "following" if self.follows else "not following"
        self.outcomes.append(Outcome(kind, label, self.previous, attached, seconds, ok, detail))


def run_day(day: Day, actions: list[str], progress: Callable[[int, str], None] | None = None):
    for number, action in enumerate(actions, 1):
        if progress is not None:
            progress(number, action)
        day.step(action)
    return day.finish()
