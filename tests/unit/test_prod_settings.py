"""The prod server's settings and start-up hooks, without a container."""

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
    assert message.startswith(f"{name}={raw!r} is not valid")
    assert fragment in message
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
    assert err == "berth: cannot start: MAX_BODY_BYTES must be a positive integer, got 'lots'\n"


def test_master_start_up_error_is_one_line(clean_env, tmp_path):
    (tmp_path / "notes.sqlite3").write_text("not a database, but long enough to be read" * 100)
    clean_env.setenv("DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as caught:
        startup.on_starting(None)
    assert str(caught.value).startswith("berth: cannot start: file is not a database")


def test_worker_that_cannot_start_says_why(clean_env, tmp_path):
    clean_env.setenv("DATA_DIR", str(tmp_path / "file"))
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
