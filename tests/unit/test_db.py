import sqlite3

import pytest

from app import create_app, notes


def test_data_persists_across_app_instances(clean_env, tmp_path):
    first = create_app({"TESTING": True, "DATA_DIR": tmp_path}).test_client()
    note = first.post("/api/notes", json={"title": "kept", "body": "b"}).get_json()

    second = create_app({"TESTING": True, "DATA_DIR": tmp_path}).test_client()
    assert second.get(f"/api/notes/{note['id']}").get_json() == note
    assert (tmp_path / "notes.sqlite3").is_file()


@pytest.mark.sqlite_only
def test_database_uses_wal(app):
    conn = sqlite3.connect(app.config["DATABASE"])
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_failed_update_leaves_previous_note_intact(clean_env, tmp_path):
    app = create_app({"DATA_DIR": tmp_path, "PROPAGATE_EXCEPTIONS": False})
    client = app.test_client()
    note = client.post("/api/notes", json={"title": "before", "body": "old"}).get_json()

    def broken_fetch(conn, note_id):
        raise RuntimeError("disk fell off after the UPDATE ran")

    # Fail after the UPDATE statement but before the transaction commits.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(notes, "fetch_note", broken_fetch)
        response = client.put(f"/api/notes/{note['id']}", json={"title": "after"})
    assert response.status_code == 500

    assert client.get(f"/api/notes/{note['id']}").get_json() == note


def test_failed_create_leaves_no_half_written_note(clean_env, tmp_path):
    app = create_app({"DATA_DIR": tmp_path, "PROPAGATE_EXCEPTIONS": False})
    client = app.test_client()
    client.post("/api/notes", json={"title": "existing"})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(notes, "fetch_note", lambda conn, note_id: 1 / 0)
        assert client.post("/api/notes", json={"title": "lost"}).status_code == 500

    assert [n["title"] for n in client.get("/api/notes").get_json()] == ["existing"]
