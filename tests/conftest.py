"""Fixtures for the unit tests: an app on a throwaway database and its test client.

The app runs on each backend: SQLite (a file in a temporary folder) and MariaDB (one server
in a container for the session, emptied before each test). The MariaDB variants are marked
`docker`: plain `pytest` runs SQLite only; scripts/test, which CI runs, selects both.
Tests about SQLite itself (its file, WAL, query plans) are marked `sqlite_only`.
"""

import pytest

from app import create_app
from app.config import ENV_SETTINGS

BACKENDS = ("sqlite", pytest.param("mariadb", marks=pytest.mark.docker))


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ["sqlite"] if only_sqlite else BACKENDS, scope="session")


@pytest.fixture(scope="session")
def mariadb_server():
    from tools.harness.mariadb import mariadb

    with mariadb() as server:
        yield server


@pytest.fixture
def clean_env(monkeypatch):
    # A developer's shell or the dev container may export these; unit tests must not see them.
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def database_url(request, backend):
    """None for SQLite in DATA_DIR; the URL of an empty MariaDB database otherwise."""
    if backend == "sqlite":
        return None
    from tools.harness.mariadb import empty

    server = request.getfixturevalue("mariadb_server")
    # Tables from an earlier test's migrations go; this test's app migrates afresh.
    empty(server.url())
    return server.url()


@pytest.fixture
def app(clean_env, tmp_path, database_url):
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path, "DATABASE_URL": database_url})
    yield app
    app.extensions["berth_db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_note(client):
    """Create a note through the API and return its JSON."""

    def make(title="A note", body=""):
        response = client.post("/api/notes", json={"title": title, "body": body})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make
