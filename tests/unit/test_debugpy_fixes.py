"""dev/debugpy_fixes.py still fits the installed debugpy.

The fixes touch debugpy's internals. After an upgrade this fails until someone has checked each
bug again (docs/debugger.md says how) and moved TESTED_WITH, or removed a fix that upstream made
unneeded.
"""

import pytest

from dev import debugpy_fixes


def test_the_fixes_fit_the_installed_debugpy():
    assert debugpy_fixes.stale() == []


def test_stale_notices_a_version_it_was_not_checked_on(monkeypatch):
    monkeypatch.setattr(debugpy_fixes, "TESTED_WITH", "0.0.1")
    problems = debugpy_fixes.stale()
    assert len(problems) == 1
    assert "checked on 0.0.1" in problems[0]


def test_a_response_to_a_client_that_has_gone_is_dropped(monkeypatch):
    """The adapter answers ``disconnect`` after the editor has closed its socket: without the
    fix that write raises, and debugpy's handler thread ends the adapter (os._exit)."""
    import socket

    from debugpy.common import messaging

    monkeypatch.setattr(messaging.Request, "respond", messaging.Request.respond)
    ours, editor = socket.socketpair()
    channel = messaging.JsonMessageChannel(messaging.JsonIOStream.from_socket(ours, "client"))
    editor.close()
    channel.stream.close()  # what the reader does when it sees the editor's end
    request = messaging.Request(channel, 6, "disconnect", messaging.MessageDict(None, {}))
    with pytest.raises(messaging.NoMoreMessages):
        messaging.Request.respond(request, {})
    request.response = None

    debugpy_fixes.drop_responses_to_gone_clients()
    request.respond({})
    assert request.response is not None
    assert request.response.body == {}
    failed = messaging.Request(channel, 7, "attach", messaging.MessageDict(None, {}))
    failed.respond(RuntimeError("set-up failed"))  # cant_handle() answers this way
    assert isinstance(failed.response.body, RuntimeError)


def test_each_adapter_fix_applies_once(monkeypatch):
    from debugpy.adapter import clients, servers, sessions
    from debugpy.common import messaging, sockets

    patched = {
        (sessions.Session, "finalize"),
        (sockets, "serve"),
        (clients.Client, "report_sockets"),
        (messaging.Request, "respond"),
        (clients.Client, "notify_of_subprocess"),
        (servers, "wait_for_connection"),
    }
    for owner, name in patched:
        monkeypatch.setattr(owner, name, getattr(owner, name))
    for fix in debugpy_fixes.ADAPTER_FIXES:
        fix()
    first = {(owner, name): getattr(owner, name) for owner, name in patched}
    assert all(getattr(f, "berth_guarded", False) for f in first.values()), first
    for fix in debugpy_fixes.ADAPTER_FIXES:
        fix()
    assert {(owner, name): getattr(owner, name) for owner, name in patched} == first


def test_each_resumed_thread_is_woken_itself(monkeypatch):
    """pydevd's ``continue`` wakes the thread of whatever entry its bookkeeping loop ended on,
    not the one it resumed (which then waits out its 0.2 s poll): without the fix, at most one
    of these threads would be woken, the same one each time."""
    import threading

    import debugpy._vendored.force_pydevd  # noqa: F401
    from _pydevd_bundle import pydevd_constants
    from _pydevd_bundle import pydevd_thread_lifecycle as lifecycle
    from _pydevd_bundle.pydevd_additional_thread_info import set_additional_thread_info

    class Debugger:  # what the resume asks of pydevd's PyDB
        pydb_disposed = False

        def __init__(self) -> None:
            self.events: dict[str, threading.Event] = {}

        def get_internal_queue_and_event(self, thread_id):
            return None, self.events.setdefault(thread_id, threading.Event())

    debugger = Debugger()
    monkeypatch.setattr(pydevd_constants.GlobalDebuggerHolder, "global_dbg", debugger)
    monkeypatch.setattr(lifecycle, "internal_run_thread", lifecycle.internal_run_thread)
    debugpy_fixes.wake_resumed_threads()
    debugpy_fixes.wake_resumed_threads()  # once: a second call does not wrap it again
    assert lifecycle.internal_run_thread.berth_guarded
    assert not getattr(lifecycle.internal_run_thread.__wrapped__, "berth_guarded", False)

    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait, daemon=True) for _ in range(10)]
    for thread in threads:
        thread.start()
        set_additional_thread_info(thread)
    try:
        woken = []
        for thread in threads:
            for event in debugger.events.values():
                event.clear()
            lifecycle.internal_run_thread(thread, set_additional_thread_info)
            thread_id = pydevd_constants.get_thread_id(thread)
            woken.append(debugger.events.get(thread_id, threading.Event()).is_set())
        assert all(woken), woken
    finally:
        stop.set()
