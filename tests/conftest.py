"""Fixtures for the unit tests: an app on a throwaway database and its test client."""

import pytest

from app import create_app
from app.config import ENV_SETTINGS


@pytest.fixture
def clean_env(monkeypatch):
    # A developer's shell or the dev container may export these; unit tests must not see them.
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def app(clean_env, tmp_path):
    return create_app({"TESTING": True, "DATA_DIR": tmp_path})


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
