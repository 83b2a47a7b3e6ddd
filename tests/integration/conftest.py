"""Tests that start real processes on this machine (no Docker): marked `integration`.

Plain `pytest` on a host runs them with the unit tests; `pytest` in the dev container leaves them
out (the image's PYTEST_ADDOPTS), so that `make test` stays quick: the container tests run the
same scenarios against the dev image.
"""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
