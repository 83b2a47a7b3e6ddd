"""The debugger in the dev stack under editors that misbehave (tools/harness/editors.py): the
same scenarios as tests/integration/test_dev_server.py, against the dev image on the real engine,
with an editor on the host attached through the published port.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from dev.debugger import CLAIM_TIMEOUT
from dev.supervisor import STANDBYS
from tools.harness import devlog, editors
from tools.harness.commands import unique
from tools.harness.compose import dev_stack
from tools.harness.editors import ServiceTarget
from tools.harness.project import owned_checkout


@pytest.fixture(scope="module")
def target(docker_engine, tmp_path_factory) -> Iterator[ServiceTarget]:
    workspace = owned_checkout(tmp_path_factory.mktemp("debugger") / "berth")
    with dev_stack(workspace, unique("berth-debugger")) as stack:
        yield stack.target()
    shutil.rmtree(workspace, ignore_errors=True)


def test_port_checks_do_not_wedge_the_debugger(target):
    editors.port_checks(target)
    editors.assert_undisturbed(target)


@pytest.mark.parametrize("how", ["disconnect-and-close", "close", "half-message"])
def test_an_editor_that_leaves_disturbs_nothing(target, how):
    editors.editor_leaves(target, how)
    editors.assert_undisturbed(target)


def test_an_editor_that_crashes_mid_attach_disturbs_nothing(target):
    editors.crash_mid_attach(target)
    editors.assert_undisturbed(target)


@pytest.mark.parametrize("how", ["close", "disconnect-and-close"])
def test_an_editor_that_vanishes_at_a_breakpoint(target, how):
    seconds = editors.editor_vanishes_at_a_breakpoint(target, how)
    print(f"the next edit was served {seconds:.2f} s after the save")
    editors.assert_undisturbed(target)


def test_an_editor_that_leaves_before_claiming_an_app_process(target):
    seconds = editors.editor_leaves_before_claiming(
        target, "disconnect-and-close", 1 + STANDBYS, CLAIM_TIMEOUT
    )
    print(f"the next edit was served {seconds:.2f} s after the save")
    editors.assert_undisturbed(target)


def test_an_attach_to_an_app_process_that_has_gone_is_given_up(target):
    seconds = editors.attach_to_a_gone_app_process(target)
    print(f"the other app processes were attached {seconds:.2f} s after the gone one's news")
    editors.assert_undisturbed(target)


def test_a_client_that_does_not_follow_children(target):
    seconds = editors.client_ignores_children(target)
    print(f"edits served after {seconds} s, with a client that does not follow app processes")
    editors.assert_undisturbed(target)


def test_attach_detach_edit_cycles(target):
    editors.attach_detach_cycles(target)
    editors.assert_undisturbed(target)


def test_an_editor_that_reconnects_at_once(target):
    editors.reconnects_at_once(target)
    editors.assert_undisturbed(target)


# Last: the restart in place it causes is what the others must never cause.
def test_a_killed_debug_adapter_is_replaced(target):
    seconds = editors.adapter_killed(target)
    print(f"a breakpoint hit {seconds:.2f} s after the debug adapter was killed")
    assert devlog.RESTARTED in target.log()
