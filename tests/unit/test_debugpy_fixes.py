"""dev/debugpy_fixes.py still fits the installed debugpy.

The fixes touch debugpy's internals. After an upgrade this fails until someone has checked each
bug again (docs/debugger.md says how) and moved TESTED_WITH, or removed a fix that upstream made
unneeded.
"""

from dev import debugpy_fixes


def test_the_fixes_fit_the_installed_debugpy():
    assert debugpy_fixes.stale() == []


def test_stale_notices_a_version_it_was_not_checked_on(monkeypatch):
    monkeypatch.setattr(debugpy_fixes, "TESTED_WITH", "0.0.1")
    problems = debugpy_fixes.stale()
    assert len(problems) == 1
    assert "checked on 0.0.1" in problems[0]
