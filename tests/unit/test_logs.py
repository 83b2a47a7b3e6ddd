"""LOG_FORMAT: json writes every logger's lines as one JSON object per line on stdout; text
leaves logging as Flask sets it up."""

import datetime
import json
import logging
import os

import pytest

from app import create_app, logs


@pytest.fixture(autouse=True)
def text_again(clean_env):
    yield
    logs.use_format("text")  # the root logger is the process's: leave it as it was


def json_app(data_dir):
    """An app logging JSON, made in the test itself: its handler keeps the sys.stdout it
    finds, and capsys replaces it only for the test's body."""
    return create_app({"DATA_DIR": data_dir, "LOG_FORMAT": "json"})


def lines_of(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_json_lines_have_the_fields(tmp_path, capsys):
    json_app(tmp_path)
    capsys.readouterr()
    logging.getLogger("some.library").warning("careful: %s", "x")
    [line] = lines_of(capsys.readouterr().out)
    stamp = datetime.datetime.fromisoformat(line.pop("time"))
    assert stamp.utcoffset() == datetime.timedelta(0)
    assert abs(stamp - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)
    assert line == {
        "level": "WARNING",
        "logger": "some.library",
        "pid": os.getpid(),
        "message": "careful: x",
    }


def test_an_exception_is_one_line_with_its_traceback_and_request_id(tmp_path, capsys):
    app = json_app(tmp_path)

    @app.get("/boom")
    def boom():
        return 1 / 0

    capsys.readouterr()
    answer = app.test_client().get("/boom", headers={"X-Request-ID": "boom-1"})
    assert answer.status_code == 500
    out, err = capsys.readouterr()
    [line] = lines_of(out)
    assert (line["level"], line["logger"], line["request_id"]) == ("ERROR", "app", "boom-1")
    assert line["traceback"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in line["traceback"]
    assert err == "", "Flask's own text handler is off in json"


def test_a_second_app_replaces_the_handler_and_text_takes_it_away(tmp_path, capsys):
    json_app(tmp_path)
    json_app(tmp_path)
    marked = [h for h in logging.getLogger().handlers if getattr(h, logs.MARK, False)]
    assert len(marked) == 1
    create_app({"DATA_DIR": tmp_path, "LOG_FORMAT": "text"})
    assert not [h for h in logging.getLogger().handlers if getattr(h, logs.MARK, False)]
    capsys.readouterr()
    logging.getLogger("app").warning("plain")
    assert "{" not in capsys.readouterr().out
