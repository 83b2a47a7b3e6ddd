"""Hostile and odd input: every client error is a JSON 4xx, every empty answer has no type."""

import json
import sqlite3

import pytest
from werkzeug.test import EnvironBuilder

from app import engine, migrate
from app.models import MAX_INT
from tools.harness.api import assert_json_error

TOO_BIG = str(MAX_INT + 1)


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("field", ["title", "body"])
def test_lone_surrogates_are_refused(client, make_note, method, field):
    url = "/api/notes" if method == "POST" else f"/api/notes/{make_note()['id']}"
    payload = {"title": "ok", field: "a\ud800b"}
    response = client.open(
        url,
        method=method,
        data=json.dumps(payload),  # ensure_ascii: the surrogate travels as "\ud800"
        content_type="application/json",
    )
    error = assert_json_error(response, 400)
    assert error["fields"] == {field: "must not contain unpaired surrogates"}


def test_paired_surrogates_are_text(client):
    created = client.post(
        "/api/notes", data='{"title": "\\ud83d\\ude00"}', content_type="application/json"
    )
    assert created.status_code == 201
    assert created.get_json()["title"] == "\N{GRINNING FACE}"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/notes/{TOO_BIG}",
        "/api/notes/" + "9" * 40,
        "/api/notes/" + "9" * 5000,  # longer than int() converts
        "/api/notes/%EF%BC%91",  # a fullwidth "1"
        "/api/notes/%D9%A1",  # an Arabic-Indic "1"
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_ids_out_of_range_or_not_ascii_are_404(client, make_note, path, method):
    make_note()  # note 1 exists: a Unicode "1" must not reach it
    assert_json_error(client.open(path, method=method, json={"title": "x"}), 404)


def test_largest_id_is_a_plain_404(client):
    assert_json_error(client.get(f"/api/notes/{MAX_INT}"), 404)


@pytest.mark.parametrize("name", ["offset", "limit"])
@pytest.mark.parametrize("value", [TOO_BIG, "9" * 30, "9" * 5000, "\uff11", "1\u0661"])
def test_pagination_out_of_range_is_400(client, name, value):
    error = assert_json_error(client.get("/api/notes", query_string={name: value}), 400)
    assert list(error["fields"]) == [name]


def test_largest_offset_is_an_empty_page(client, make_note):
    make_note()
    assert client.get(f"/api/notes?offset={MAX_INT}").get_json() == []


@pytest.mark.parametrize("depth", [10_000, 30_000])
def test_deeply_nested_json_is_400(client, depth):
    body = "[" * depth + "]" * depth
    response = client.post("/api/notes", data=body, content_type="application/json")
    assert_json_error(response, 400)


def test_huge_number_in_json_is_400(client):
    body = '{"title": ' + "9" * 5000 + "}"
    response = client.post("/api/notes", data=body, content_type="application/json")
    assert_json_error(response, 400)


def test_body_of_exactly_the_limit_is_read_whole(clean_env, tmp_path):
    from app import create_app

    app = create_app({"TESTING": True, "DATA_DIR": tmp_path, "MAX_BODY_BYTES": 100})
    client = app.test_client()
    payload = json.dumps({"title": "x"})
    payload = payload[:-1] + " " * (100 - len(payload)) + "}"
    assert len(payload) == 100
    response = client.post("/api/notes", data=payload, content_type="application/json")
    assert response.status_code == 201, response.get_json()
    assert_json_error(
        client.post("/api/notes", data=payload + " ", content_type="application/json"), 413
    )


def test_chunked_body_over_the_limit_is_413_not_cut(clean_env, tmp_path):
    """A body without Content-Length (chunked) is refused whole, not cut at the limit: cut,
    valid JSON followed by padding would be accepted, and a long note be "not valid JSON"."""
    from app import create_app

    app = create_app({"TESTING": True, "DATA_DIR": tmp_path, "MAX_BODY_BYTES": 100})
    for body in [b'{"title": "x"}' + b" " * 1000, json.dumps({"title": "x" * 150}).encode()]:
        builder = EnvironBuilder(method="POST", path="/api/notes", data=body)
        environ = builder.get_environ()
        del environ["CONTENT_LENGTH"]
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["CONTENT_TYPE"] = "application/json"
        environ["wsgi.input_terminated"] = True  # as gunicorn and Werkzeug's server set it
        assert_json_error(app.response_class.from_app(app, environ), 413)
    assert app.test_client().get("/api/notes").get_json() == []


def test_a_failing_server_body_reader_is_400(app):
    class BrokenChunks:
        def read(self, size=-1):
            raise RuntimeError("invalid chunk size")  # gunicorn's InvalidChunkSize is no OSError

    environ = EnvironBuilder(method="POST", path="/api/notes", data=b"x").get_environ()
    del environ["CONTENT_LENGTH"]
    environ["CONTENT_TYPE"] = "application/json"
    environ["wsgi.input"] = BrokenChunks()
    environ["wsgi.input_terminated"] = True
    assert_json_error(app.response_class.from_app(app, environ), 400)


def test_options_answers_allow_without_a_body_or_type(client):
    response = client.options("/api/notes")
    assert response.status_code == 200
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert {"GET", "POST", "OPTIONS"} <= set(response.headers["Allow"].split(", "))


def test_204_has_no_content_type(client, make_note):
    response = client.delete(f"/api/notes/{make_note()['id']}")
    assert response.status_code == 204
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize("method", ["PATCH", "TRACE", "FOO"])
def test_other_methods_are_json_405(client, method):
    assert_json_error(client.open("/api/notes", method=method), 405)


def test_debug_mode_still_answers_json_500(app):
    """The dev server runs the app with debug on, which makes Flask re-raise by default."""
    app.debug = True
    app.testing = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    error = assert_json_error(response, 500)
    assert "secret" not in error["message"]


@pytest.mark.sqlite_only
def test_list_reads_the_index_in_order(app):
    conn = engine.connect(app.config["DATABASE"])
    plan = " ".join(
        row[3]  # the "detail" column
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM notes ORDER BY created_at DESC, id DESC LIMIT 50"
        )
    )
    conn.close()
    assert "USING INDEX notes_by_created" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.sqlite_only
def test_healthz_does_not_read_the_notes(client, monkeypatch):
    statements: list[str] = []
    connect = engine.connect

    def traced(path):
        conn = connect(path)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(engine, "connect", traced)
    assert client.get("/healthz").status_code == 200
    assert statements
    assert not [s for s in statements if "from notes" in s.lower()], statements


def test_workers_skip_the_schema_set_up(clean_env, tmp_path):
    from app import create_app

    create_app({"DATA_DIR": tmp_path, "INIT_DB": False})
    assert not (tmp_path / engine.DB_FILENAME).exists()


def test_schema_set_up_is_idempotent_and_read_only_when_done(tmp_path):
    path = tmp_path / engine.DB_FILENAME
    migrate.upgrade(path)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        engine.LOCK_TIMEOUT_SECONDS, saved = 0, engine.LOCK_TIMEOUT_SECONDS
        migrate.upgrade(path)  # would fail at once with "database is locked" if it wrote
    finally:
        engine.LOCK_TIMEOUT_SECONDS = saved
        holder.rollback()
        holder.close()


def test_overrides_are_validated_once_and_the_rest_is_flask_config(clean_env, tmp_path):
    from app import create_app

    app = create_app({"DATA_DIR": tmp_path, "MAX_BODY_BYTES": "100", "SOMETHING": 1})
    assert app.config["MAX_BODY_BYTES"] == 100
    assert app.config["MAX_CONTENT_LENGTH"] == 100
    assert app.config["SOMETHING"] == 1
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
