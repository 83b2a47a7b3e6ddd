"""Imported by pydevd in each app process before it connects to the debug adapter.

``dev.debugger`` names this module as pydevd's preimport, the one hook that runs that early:
importing it is the hook, so it does nothing else.
"""

from dev import debugger

debugger.in_app_process()
