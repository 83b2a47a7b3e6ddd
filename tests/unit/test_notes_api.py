import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from app.db import get_db
from app.models import notes

STAMP = "2024-01-01T00:00:00.000Z"


def assert_error(response, status, fields=None):
    """The shared error shape: JSON, never HTML, with the status repeated in the body."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    if fields is None:
        assert "fields" not in error
    else:
        assert sorted(error["fields"]) == sorted(fields)
    return error


def test_crud_round_trip(client):
    created = client.post("/api/notes", json={"title": "  Shopping  ", "body": "milk"})
    assert created.status_code == 201
    note = created.get_json()
    assert set(note) == {"id", "title", "body", "created_at", "updated_at"}
    assert isinstance(note["id"], int)
    assert note["title"] == "Shopping"
    assert note["body"] == "milk"
    assert created.headers["Location"] == f"/api/notes/{note['id']}"
    assert datetime.fromisoformat(note["created_at"]).utcoffset() == timedelta(0)
    assert note["updated_at"] == note["created_at"]

    fetched = client.get(created.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.get_json() == note

    replaced = client.put(f"/api/notes/{note['id']}", json={"title": "Groceries"})
    assert replaced.status_code == 200
    updated = replaced.get_json()
    assert updated["title"] == "Groceries"
    assert updated["body"] == ""  # PUT replaces the note: a missing body resets it
    assert updated["created_at"] == note["created_at"]
    assert updated["updated_at"] >= note["updated_at"]
    assert client.get(f"/api/notes/{note['id']}").get_json() == updated

    deleted = client.delete(f"/api/notes/{note['id']}")
    assert deleted.status_code == 204
    assert deleted.data == b""
    assert_error(client.get(f"/api/notes/{note['id']}"), 404)
    assert client.get("/api/notes").get_json() == []


def test_list_is_newest_first_and_paginated(client, make_note):
    ids = [make_note(f"note {i}")["id"] for i in range(5)]
    newest_first = ids[::-1]

    assert [n["id"] for n in client.get("/api/notes").get_json()] == newest_first
    page = client.get("/api/notes?limit=2&offset=1").get_json()
    assert [n["id"] for n in page] == newest_first[1:3]
    assert client.get("/api/notes?offset=5").get_json() == []


def test_list_default_limit_is_50_and_max_is_100(app, client):
    with app.app_context():
        conn = get_db()
        with conn.begin():
            conn.execute(
                insert(notes),
                [
                    {"title": f"n{i}", "body": "", "created_at": STAMP, "updated_at": STAMP}
                    for i in range(120)
                ],
            )
    assert len(client.get("/api/notes").get_json()) == 50
    assert len(client.get("/api/notes?limit=100").get_json()) == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ],
)
def test_list_rejects_bad_pagination(client, query, field):
    assert_error(client.get(f"/api/notes?{query}"), 400, fields=[field])


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, ["title"]),
        ({"title": None}, ["title"]),
        ({"title": ""}, ["title"]),
        ({"title": "   "}, ["title"]),
        ({"title": 42}, ["title"]),
        ({"title": "x" * 201}, ["title"]),
        ({"title": "ok", "body": 5}, ["body"]),
        ({"title": "ok", "body": "x" * 10_001}, ["body"]),
        ({"title": "", "body": ["not", "text"]}, ["title", "body"]),
    ],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_invalid_note_is_rejected_with_fields(client, make_note, method, payload, fields):
    url = "/api/notes" if method == "post" else f"/api/notes/{make_note()['id']}"
    assert_error(getattr(client, method)(url, json=payload), 400, fields=fields)


def test_limits_are_inclusive(client):
    response = client.post("/api/notes", json={"title": "x" * 200, "body": "y" * 10_000})
    assert response.status_code == 201


def test_unknown_fields_are_listed(client):
    response = client.post("/api/notes", json={"title": "ok", "tags": [], "colour": "red"})
    error = assert_error(response, 400, fields=["colour", "tags"])
    assert "colour" in error["message"]
    assert "tags" in error["message"]


@pytest.mark.parametrize("payload", [[{"title": "x"}], "a title", 3, None])
def test_body_must_be_a_json_object(client, payload):
    response = client.post("/api/notes", data=json.dumps(payload), content_type="application/json")
    assert "object" in assert_error(response, 400)["message"]


def test_malformed_json_is_400(client):
    response = client.post("/api/notes", data='{"title": ', content_type="application/json")
    assert "JSON" in assert_error(response, 400)["message"]


def test_invalid_utf8_is_400(client):
    response = client.post("/api/notes", data=b'{"title": "\xff"}', content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_400(client, content_type):
    response = client.post("/api/notes", data='{"title": "x"}', content_type=content_type)
    assert "Content-Type" in assert_error(response, 400)["message"]


def test_unknown_note_is_404(client):
    for method in ("get", "delete"):
        assert_error(getattr(client, method)("/api/notes/999"), 404)
    assert_error(client.put("/api/notes/999", json={"title": "x"}), 404)
