import logging

from app import create_app
from tools.harness.api import assert_json_error


def test_unknown_path_is_json_404(client):
    assert_json_error(client.get("/no/such/page"), 404)


def test_non_integer_id_is_json_404(client):
    assert_json_error(client.get("/api/notes/abc"), 404)


def test_wrong_method_is_json_405_with_allow_header(client):
    response = client.patch("/api/notes/1", json={"title": "x"})
    assert_json_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PUT", "DELETE"}
    assert_json_error(client.delete("/api/notes"), 405)


def test_body_over_limit_is_json_413(clean_env, tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path, "MAX_BODY_BYTES": 100})
    client = app.test_client()
    assert client.post("/api/notes", json={"title": "x" * 50}).status_code == 201
    error = assert_json_error(client.post("/api/notes", json={"title": "x" * 200}), 413)
    assert "100" in error["message"]
    assert len(client.get("/api/notes").get_json()) == 1


def test_default_body_limit_is_64_kib(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 65536
    response = client.post("/api/notes", json={"title": "x", "body": "y" * 70_000})
    assert_json_error(response, 413)


def test_unhandled_exception_is_json_500_and_logged(clean_env, tmp_path, caplog):
    app = create_app({"DATA_DIR": tmp_path, "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")

    error = assert_json_error(response, 500)
    assert "fields" not in error
    assert b"secret internals" not in response.data
    assert b"Traceback" not in response.data
    # The details go to the server log instead, with the traceback.
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged, "the exception was not logged"
