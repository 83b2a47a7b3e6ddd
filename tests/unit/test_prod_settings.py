"""The prod server's settings and start-up hooks, without a container."""

import io
import json

import pytest
from gunicorn.errors import AppImportError

from app.config import ConfigError
from prod import startup
from prod.__main__ import main
from prod.settings import check_all, server_settings


def test_defaults():
    assert server_settings({}) == {
        "PORT": 8000,
        "WEB_CONCURRENCY": 2,
        "GUNICORN_THREADS": 4,
        "GUNICORN_WORKER_CONNECTIONS": 1000,
        "GUNICORN_TIMEOUT": 30,
        "GUNICORN_GRACEFUL_TIMEOUT": 5,
    }


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("PORT", "0", "from 1 to 65535"),
        ("PORT", "8000.5", "from 1 to 65535"),
        ("WEB_CONCURRENCY", "-1", "from 1 to 64"),
        ("WEB_CONCURRENCY", "\uff12", "from 1 to 64"),
        ("WEB_CONCURRENCY", "9" * 5000, "from 1 to 64"),
        ("GUNICORN_GRACEFUL_TIMEOUT", "1e3", "from 0 to 3600"),
    ],
)
def test_bad_numbers_name_setting_value_and_range(name, raw, fragment):
    with pytest.raises(ConfigError) as caught:
        server_settings({name: raw})
    message = str(caught.value)
    assert message.startswith(f"{name}={str(raw)[:40]!r}")
    assert f"use a whole number {fragment}" in message
    assert len(message) < 200
    assert "\n" not in message


def test_unknown_gunicorn_variables_are_refused_but_gunicorns_own_pass():
    with pytest.raises(ConfigError, match="GUNICORN_THREDS='8' is not a setting"):
        server_settings({"GUNICORN_THREDS": "8"})
    assert server_settings({"GUNICORN_PID": "1", "GUNICORN_FD": "3"})["PORT"] == 8000


def test_gunicorn_cmd_args_are_parsed_by_gunicorn(clean_env, tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    assert check_all({**env, "GUNICORN_CMD_ARGS": "--workers 3 --backlog 64"})["PORT"] == 8000
    for bad in ("--workers abc", "--no-such-option", "'unclosed"):
        with pytest.raises(ConfigError, match="GUNICORN_CMD_ARGS="):
            check_all({**env, "GUNICORN_CMD_ARGS": bad})


def test_launcher_prints_one_line_and_exits_2(clean_env, capsys):
    clean_env.setenv("MAX_BODY_BYTES", "lots")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == (
        "berth: cannot start: MAX_BODY_BYTES='lots' is not a size in bytes: use a whole number "
        "from 1 to 2147483647\n"
    )


def test_master_start_up_error_is_one_line(clean_env, tmp_path):
    (tmp_path / "notes.sqlite3").write_text("not a database, but long enough to be read" * 100)
    clean_env.setenv("DATA_DIR", str(tmp_path))
    clean_env.setenv("METRICS_PORT", "0")  # no metrics folder in this machine's /tmp
    with pytest.raises(SystemExit) as caught:
        startup.on_starting(None)
    assert str(caught.value).startswith("berth: cannot start: file is not a database")


def test_worker_that_cannot_start_says_why(clean_env, tmp_path):
    clean_env.setenv("DATA_DIR", str(tmp_path / "file"))
    clean_env.setenv("METRICS_PORT", "0")  # no metrics folder in this machine's /tmp
    (tmp_path / "file").write_text("")
    with pytest.raises(AppImportError, match="berth: worker cannot start: DATA_DIR"):
        startup.worker_app()


def test_whole_requests_reads_the_body_first_and_runs_the_app_in_a_thread():
    import io
    import threading

    from prod.worker import WholeRequests

    seen = {}

    class Result(list):
        closed = False

        def close(self):
            Result.closed = True

    def app(environ, start_response):
        seen["thread"] = threading.current_thread()
        seen["body"] = environ["wsgi.input"].read()
        write = start_response("201 CREATED", [("Content-Type", "application/json")])
        write(b"[")
        return Result([b"1", b"]"])

    wrapped = WholeRequests(app, threads=2, max_body_bytes=10)
    started = []
    for body, length, expected in [
        (b"0123456789abcdef", "", b"0123456789a"),  # chunked: one byte past the limit
        (b"0123", "4", b"0123"),
        (b"x" * 50, "50", b""),  # refused by its Content-Length alone
    ]:
        environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": length}
        answer = wrapped(environ, lambda *args: started.append(args))
        assert seen["body"] == expected
        assert answer == [b"[1]"]
    assert seen["thread"] is not threading.current_thread()
    assert started[-1] == ("201 CREATED", [("Content-Type", "application/json")], None)
    assert Result.closed


def test_env_example_documents_every_setting():
    from pathlib import Path

    from app.config import ENV_SETTINGS
    from prod.settings import SERVER_SETTINGS

    text = (Path(__file__).parents[2] / ".env.example").read_text()
    for name in (*ENV_SETTINGS, *SERVER_SETTINGS):
        assert f"{name}=" in text, name


def test_prod_logs_json_unless_told_otherwise():
    from prod.settings import log_format

    assert log_format({}) == "json"
    assert log_format({"LOG_FORMAT": ""}) == "json"
    assert log_format({"LOG_FORMAT": "Text"}) == "text"


def test_bad_log_and_metrics_settings_are_one_line(clean_env, tmp_path, capsys):
    clean_env.setenv("LOG_FORMAT", "yaml")
    assert main([]) == 2
    assert capsys.readouterr().err == (
        "berth: cannot start: LOG_FORMAT='yaml' is not a log format: use one of json, text\n"
    )
    clean_env.delenv("LOG_FORMAT")
    with pytest.raises(ConfigError, match="METRICS_PORT and PORT are both 9100"):
        check_all({"DATA_DIR": str(tmp_path), "METRICS_PORT": "9100", "PORT": "9100"})
    assert check_all({"DATA_DIR": str(tmp_path), "METRICS_PORT": "0", "PORT": "9000"})


def test_the_app_runs_in_the_context_of_its_connections_greenlet():
    """The request id set in the greenlet (Worker.handle_request) is known in the thread the
    app runs in, also to code outside the app's own middleware, and in the environ."""
    import logging

    from app import request_id
    from prod.worker import WholeRequests

    seen = {}

    def app(environ, start_response):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        request_id.LogFilter().filter(record)
        seen["record"], seen["environ"] = record.request_id, environ[request_id.ENVIRON_KEY]
        start_response("200 OK", [])
        return [b""]

    wrapped = WholeRequests(app, threads=1, max_body_bytes=10)
    token = request_id.current.set("hop-1")
    try:
        wrapped({"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "0"}, lambda *args: None)
    finally:
        request_id.current.reset(token)
    assert seen == {"record": "hop-1", "environ": "hop-1"}


def test_what_gunicorn_refuses_gets_the_apps_json_error_and_an_id():
    from gunicorn import util

    from app import request_id
    from prod.worker import write_error

    class Socket:
        sent = b""

        def gettimeout(self):
            return 0.0

        def sendall(self, data):
            Socket.sent += data

    token = request_id.current.set("refused-1")
    try:
        write_error(Socket(), 414, "URI Too Long", "Request Line is too large (5014 > 4094)")
    finally:
        request_id.current.reset(token)
    head, _, body = Socket.sent.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 414 URI Too Long"
    assert "X-Request-ID: refused-1" in lines
    assert "Content-Type: application/json" in lines
    assert json.loads(body) == {
        "error": {"status": 414, "message": "Request Line is too large (5014 > 4094)"}
    }
    assert util.write_error is not write_error, "replaced in a worker only (init_process)"


def test_access_lines_in_json_have_the_request_fields(clean_env, capsys):
    import datetime
    import logging
    from types import SimpleNamespace

    from gunicorn.config import Config

    from app import request_id
    from prod.logs import Logger

    clean_env.setenv("LOG_FORMAT", "json")
    config = Config()
    config.set("accesslog", "-")
    logger = Logger(config)
    try:
        response = SimpleNamespace(status="201 CREATED", sent=113, headers=[])
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/notes",
            "QUERY_STRING": "limit=5&token=secret",
            "REMOTE_ADDR": "10.1.2.3",
        }
        token = request_id.current.set("access-1")
        try:
            logger.access(response, None, environ, datetime.timedelta(microseconds=1500))
        finally:
            request_id.current.reset(token)
        line = json.loads(capsys.readouterr().out)
    finally:
        for name in ("gunicorn.error", "gunicorn.access"):
            logging.getLogger(name).handlers.clear()
    assert line.pop("time")
    assert line == {
        "level": "INFO",
        "logger": "gunicorn.access",
        "pid": line["pid"],
        "message": "POST /api/notes?limit&token 201",
        "method": "POST",
        "path": "/api/notes?limit&token",  # the query's names, never its values
        "status": 201,
        "duration_ms": 1.5,
        "bytes": 113,
        "remote": "10.1.2.3",
        "request_id": "access-1",
    }
