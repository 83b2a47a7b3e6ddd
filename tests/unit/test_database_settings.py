"""Bad database settings: one clear line at start, a quick 503 from /healthz, no password shown."""

import time

import pytest

from app import create_app
from app.config import ConfigError, load_settings
from prod import startup

SECRET = "s3cret-pass"  # noqa: S105 (a wrong password, on purpose)


@pytest.mark.parametrize(
    "url",
    [
        f"mysql+pymysql//berth:{SECRET}@db/berth",  # no "://"
        f"mysql://berth:{SECRET}@db/berth",  # mysqlclient: not installed, needs a compiler
        f"postgresql://berth:{SECRET}@db/berth",
        f"mysql+pymysql://berth:{SECRET}@db:notaport/berth",
        f"mysql+pymysql://berth:{SECRET}@db",  # no database name
        "sqlite://",  # in memory: each connection its own empty database
    ],
)
def test_malformed_url_is_one_line_without_the_password(url):
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": url}, {})
    message = str(caught.value)
    assert message.startswith("DATABASE_URL ")
    assert "\n" not in message
    assert SECRET not in message


def test_unreachable_server_is_a_quick_503(clean_env, tmp_path):
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    url = f"mysql+pymysql://berth:{SECRET}@127.0.0.1:9/berth"
    app = create_app({"DATA_DIR": tmp_path, "DATABASE_URL": url, "INIT_DB": False})
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert SECRET not in response.get_data(as_text=True)
    api = app.test_client().get("/api/notes")
    assert api.status_code == 503
    assert api.get_json()["error"]["message"] == "Database unavailable, try again later."


def test_unreachable_server_at_start_is_one_line(clean_env, tmp_path):
    clean_env.setenv("DATA_DIR", str(tmp_path))
    clean_env.setenv("DATABASE_URL", f"mysql+pymysql://berth:{SECRET}@127.0.0.1:9/berth")
    with pytest.raises(SystemExit) as caught:
        startup.on_starting(None)
    message = str(caught.value)
    assert message.startswith("berth: cannot start: (2003, \"Can't connect"), message
    assert "\n" not in message
    assert SECRET not in message


@pytest.mark.docker
def test_wrong_password_is_one_line_and_healthz_503(clean_env, tmp_path, mariadb_server):
    url = mariadb_server.url(password=SECRET)
    clean_env.setenv("DATA_DIR", str(tmp_path))
    clean_env.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as caught:
        startup.on_starting(None)
    message = str(caught.value)
    assert message.startswith("berth: cannot start: (1045, \"Access denied for user 'berth'")
    assert "\n" not in message
    app = create_app({"INIT_DB": False})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "Access denied" in response.get_json()["error"]
