import shutil
import sqlite3

import pytest


def test_index_names_service_and_endpoints(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "berth" in text
    for endpoint in ("/healthz", "/api/notes", "/api/notes/<id>"):
        assert endpoint in text


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.sqlite_only
def test_healthz_503_when_table_is_gone(app, client):
    conn = sqlite3.connect(app.config["DATABASE"])
    with conn:
        conn.execute("DROP TABLE notes")
    conn.close()

    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "notes" in body["error"]


@pytest.mark.sqlite_only
def test_healthz_503_when_database_path_is_a_directory(app, client):
    db_path = app.config["DATABASE"]
    for path in db_path.parent.glob(db_path.name + "*"):
        path.unlink()
    db_path.mkdir()

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


@pytest.mark.sqlite_only
def test_healthz_503_when_data_dir_vanished(app, client):
    shutil.rmtree(app.config["DATA_DIR"])

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert response.get_json()["error"]
