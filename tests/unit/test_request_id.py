"""Request ids: kept when sane, made otherwise, on every response, on every line logged while
the request runs."""

import logging
import re

import pytest

from app import request_id
from tools.harness.api import assert_json_error

NEW_ID = re.compile(r"[0-9a-f]{32}")
SANE = [
    "abc",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "Root=1-5759e988-bd862e3fe1be46a994272793",  # AWS load balancers'
    "x.y:z/w+v=@_-",
    "a" * request_id.MAX_LENGTH,
]
HOSTILE = [
    "",
    "a b",
    'forged\n{"level": "CRITICAL"}',
    "tab\there",
    "\x1b[31mred",
    'quote"',
    "caf\u00e9",
    "semi;colon",
    "one,two",  # two X-Request-ID headers, as a server joins them
    "a" * (request_id.MAX_LENGTH + 1),
    "x" * 10_000,
]


@pytest.mark.parametrize("value", SANE)
def test_a_sane_id_is_kept(value):
    assert request_id.from_header(value) == value


@pytest.mark.parametrize("value", [*HOSTILE, None], ids=[*map(repr, HOSTILE), "none"])
def test_anything_else_gets_a_new_id(value):
    assert NEW_ID.fullmatch(request_id.from_header(value))


def test_new_ids_do_not_repeat():
    assert len({request_id.new() for _ in range(10_000)}) == 10_000


def test_the_answer_has_the_id_given_or_a_new_one(client):
    assert client.get("/healthz", headers={"X-Request-ID": "given-1"}).headers["X-Request-ID"] == (
        "given-1"
    )
    answer = client.get("/healthz", headers={"X-Request-ID": "a b"})
    assert NEW_ID.fullmatch(answer.headers["X-Request-ID"])
    assert NEW_ID.fullmatch(client.get("/healthz").headers["X-Request-ID"])


def test_json_errors_have_the_id_too(clean_env, tmp_path):
    from app import create_app

    app = create_app({"DATA_DIR": tmp_path, "MAX_BODY_BYTES": 10})

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError

    client = app.test_client()
    headers = {"X-Request-ID": "err-1", "Content-Type": "application/json"}
    for answer, status in [
        (client.get("/no/such/page", headers=headers), 404),
        (client.patch("/api/notes", headers=headers), 405),
        (client.post("/api/notes", data="{nope", headers=headers), 400),
        (client.post("/api/notes", data='{"title": "far too long"}', headers=headers), 413),
        (client.get("/boom", headers=headers), 500),
    ]:
        assert_json_error(answer, status)
        assert answer.headers["X-Request-ID"] == "err-1", status


def test_lines_logged_while_a_request_runs_carry_its_id(app, client):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(request_id.LogFilter())
    app.logger.addHandler(handler)

    @app.get("/talk")
    def talk():
        app.logger.warning("inside")
        return {}

    try:
        client.get("/talk", headers={"X-Request-ID": "talk-1"})
        app.logger.warning("outside")
    finally:
        app.logger.removeHandler(handler)
    inside, outside = records
    assert inside.request_id == "talk-1"
    assert not hasattr(outside, "request_id")
    assert request_id.current.get() is None
