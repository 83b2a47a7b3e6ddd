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
