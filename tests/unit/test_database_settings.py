"""The database settings: a URL or its parts, any characters in them, values from files. Bad
ones: one clear line at start, a quick 503 from /healthz, no password shown."""

import time

import pytest

from app import create_app
from app.config import URL_HINT, ConfigError, load_settings
from app.migrate import main as migrate
from prod import startup
from prod.__main__ import main as prod

SECRET = "s3cret-pass"  # noqa: S105 (a wrong password, on purpose)
# Passwords that break a URL pasted together, and the ones generators and people make.
PASSWORDS = [
    "p@ss:w/rd%1",
    "a#b ?c d\"e'f\\g $h",
    "p%41ss",  # a valid percent escape, which a URL would decode
    "pässwörd-密码-🔑",
    "  spaced  ",
]
PARTS = {"DATABASE_HOST": "db", "DATABASE_USER": "berth", "DATABASE_NAME": "berth"}


def database(settings: dict):
    return load_settings(settings, {})["DATABASE_URL"]


def refused(settings: dict) -> str:
    """The one-line message a setting is refused with."""
    with pytest.raises(ConfigError) as caught:
        database(settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "url",
    [
        f"mysql+pymysql//berth:{SECRET}@db/berth",  # no "://"
        f"mysql://berth:{SECRET}@db/berth",  # mysqlclient: not installed, needs a compiler
        f"postgresql://berth:{SECRET}@db/berth",
        f"mysql+pymysql://berth:{SECRET}@db:notaport/berth",
        f"mysql+pymysql://berth:{SECRET}@db",  # no database name
        "sqlite://",  # in memory: each connection its own empty database
        f"mysql+pymysql://berth:p@ss:w/rd%1{SECRET}@db:3306/berth",  # the password
        f"mysql+pymysql://berth:a@{SECRET}@db:3306/berth",  # the rest taken for the host
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
    api = app.test_client().get("/api/notes")  # a JSON 500: not a connection error
    assert api.status_code == 500
    assert api.get_json()["error"]["message"] == "Internal server error."
    for body in (response.get_data(as_text=True), api.get_data(as_text=True)):
        assert SECRET not in body


@pytest.mark.parametrize(
    "url",
    [
        f"mysql+pymysql://berth:p@ss:w/rd%1{SECRET}@db:3306/berth",
        f"mysql+pymysql://berth:a@{SECRET}@db:3306/berth",
    ],
)
def test_an_unencoded_password_is_named_as_the_likely_cause(url):
    message = refused({"DATABASE_URL": url})
    assert message.endswith(URL_HINT)
    assert "percent-encoded" in message
    assert "DATABASE_PASSWORD_FILE" in message
    assert SECRET not in message


@pytest.mark.parametrize("password", PASSWORDS)
def test_parts_take_any_password_as_it_is(password):
    url = database({**PARTS, "DATABASE_PASSWORD": password, "DATABASE_PORT": "3307"})
    assert (url.drivername, url.host, url.port) == ("mysql+pymysql", "db", 3307)
    assert (url.username, url.password, url.database) == ("berth", password, "berth")
    # The URL the engine gets says the same, however it is rendered and read back.
    from sqlalchemy.engine import make_url

    assert make_url(url.render_as_string(hide_password=False)).password == password
    assert password not in url.render_as_string(hide_password=True)


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_percent_encoded_url_still_works(password):
    from urllib.parse import quote

    url = database({"DATABASE_URL": f"mysql+pymysql://berth:{quote(password, safe='')}@db/b"})
    assert url.password == password


def test_parts_need_a_host_and_the_host_has_no_port_or_scheme():
    assert database({}) is None
    assert refused({"DATABASE_USER": "berth"}).startswith("DATABASE_USER is set but DATABASE_HOST")
    for name in ("DATABASE_USER", "DATABASE_NAME"):
        without = {k: v for k, v in PARTS.items() if k != name}
        assert refused(without) == f"{name} is required with DATABASE_HOST"
    for host in ("db:3306", "mysql://db", "u:pw@db", "db/berth"):
        message = refused({**PARTS, "DATABASE_HOST": host})
        assert message.startswith("DATABASE_HOST must be a host name or an IP address")
        assert host not in message  # it may be a URL with a password in it
    assert database({**PARTS, "DATABASE_HOST": "::1"}).host == "::1"
    for port in ("0", "65536", "33o6", "3306.0"):
        assert refused({**PARTS, "DATABASE_PORT": port}).startswith(
            f"DATABASE_PORT={port!r} is not a port"
        )


def test_a_url_or_the_parts_never_both_and_each_value_or_its_file(tmp_path):
    url = f"mysql+pymysql://berth:{SECRET}@db/berth"
    assert refused({**PARTS, "DATABASE_URL": url}).startswith(
        "DATABASE_URL and DATABASE_HOST are both set"
    )
    file = tmp_path / "password"
    file.write_text(SECRET)
    both = refused({**PARTS, "DATABASE_PASSWORD": "x", "DATABASE_PASSWORD_FILE": str(file)})
    assert both == "DATABASE_PASSWORD and DATABASE_PASSWORD_FILE are both set; set one of them"
    twice = refused({"DATABASE_URL": url, "DATABASE_PASSWORD_FILE": str(file)})
    assert twice.startswith("the password is given twice, in DATABASE_URL and in ")
    alone = refused({"DATABASE_PASSWORD_FILE": str(file)})
    assert alone.startswith("DATABASE_PASSWORD_FILE is set, but no database server")
    for message in (both, twice, alone):
        assert SECRET not in message


def test_the_password_apart_completes_a_url_without_one(tmp_path):
    file = tmp_path / "password"
    file.write_text("p@ss:w/rd%1\n")
    url = database(
        {"DATABASE_URL": "mysql+pymysql://berth@db/berth", "DATABASE_PASSWORD_FILE": file}
    )
    assert (url.username, url.password, url.host) == ("berth", "p@ss:w/rd%1", "db")


@pytest.mark.parametrize("password", PASSWORDS)
def test_files_are_read_as_utf8_without_their_trailing_newlines(tmp_path, password):
    file = tmp_path / "password"
    file.write_bytes(f"{password}\n\n".encode())
    assert database({**PARTS, "DATABASE_PASSWORD_FILE": str(file)}).password == password
    # A URL from a file, as a Kubernetes Secret or compose secret would hold it.
    from urllib.parse import quote

    file.write_text(f"mysql+pymysql://berth:{quote(password, safe='')}@db/berth\n")
    assert database({"DATABASE_URL_FILE": str(file)}).password == password


def test_only_trailing_newlines_go(tmp_path):
    """As `$(< file)` in the official images: the server and the app must agree on the bytes."""
    file = tmp_path / "password"
    file.write_bytes(b"\tpass word \r\n")
    kept = "\tpass word \r"
    assert database({**PARTS, "DATABASE_PASSWORD_FILE": file}).password == kept


@pytest.mark.parametrize("name", ["DATABASE_PASSWORD_FILE", "DATABASE_URL_FILE"])
def test_a_missing_unreadable_or_empty_file_is_one_line_naming_setting_and_path(name, tmp_path):
    settings = PARTS if name == "DATABASE_PASSWORD_FILE" else {}
    empty = tmp_path / "empty"
    empty.write_text("\n")
    binary = tmp_path / "binary"
    binary.write_bytes(SECRET.encode() + b"\xff\xfe")
    for path, why in [
        (tmp_path / "missing", "cannot be read: No such file or directory"),
        (tmp_path, "cannot be read: Is a directory"),  # unreadable, also for root
        (empty, "is empty"),
        (binary, "is not UTF-8 text"),
    ]:
        message = refused({**settings, name: str(path)})
        assert message == f"{name} {str(path)!r} {why}"


def test_a_url_file_with_a_bad_url_never_shows_it(tmp_path):
    file = tmp_path / "url"
    file.write_text(f"mysql+pymysql://berth:p@ss:{SECRET}@db/berth\n")
    message = refused({"DATABASE_URL_FILE": str(file)})
    assert message.startswith(f"DATABASE_URL (from DATABASE_URL_FILE {str(file)!r}) is not a")
    assert SECRET not in message


def test_an_override_of_the_database_replaces_the_environments(clean_env, tmp_path):
    """create_app({"DATABASE_URL": ...}) means that database, whatever the shell holds (the dev
    container's environment points at the db service)."""
    for name, value in PARTS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("DATABASE_PASSWORD_FILE", str(tmp_path / "missing"))
    app = create_app({"DATA_DIR": tmp_path, "DATABASE_URL": None})
    assert app.config["DATABASE"] == tmp_path / "notes.sqlite3"


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_bad_file_stops_prod_with_exit_2_and_one_line(clean_env, tmp_path, capsys, command):
    missing = tmp_path / "db-password"
    for name, value in PARTS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("DATA_DIR", str(tmp_path))
    clean_env.setenv("DATABASE_PASSWORD_FILE", str(missing))
    code = prod([]) if command == "serve" else migrate(["upgrade"])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    verb = "start" if command == "serve" else "migrate"
    assert lines[0] == (
        f"berth: cannot {verb}: DATABASE_PASSWORD_FILE {str(missing)!r} cannot be read: "
        "No such file or directory"
    )


@pytest.fixture(scope="module")
def mariadb_for_passwords():
    """A server of its own, its user's password changed by each test: {"server": MariaDB}."""
    from tools.harness.mariadb import mariadb

    with mariadb() as server:
        yield {"server": server}


@pytest.mark.docker
@pytest.mark.parametrize("password", PASSWORDS)
def test_any_password_reaches_mariadb(clean_env, tmp_path, mariadb_for_passwords, password):
    """The server has the password as the mariadb client sent it (UTF-8); the app must send
    the same bytes (PyMySQL alone would send Latin-1: app.engine.utf8_password)."""
    server = mariadb_for_passwords["server"] = mariadb_for_passwords["server"].with_password(
        password
    )
    file = tmp_path / "password"
    file.write_text(password + "\n")
    clean_env.setenv("DATA_DIR", str(tmp_path))
    for name, value in PARTS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("DATABASE_HOST", "127.0.0.1")
    clean_env.setenv("DATABASE_PORT", str(server.port))
    clean_env.setenv("DATABASE_PASSWORD_FILE", str(file))
    server.sql("DROP TABLE IF EXISTS notes, alembic_version")
    assert migrate(["upgrade"]) == 0
    app = create_app({"INIT_DB": False})
    try:
        note = {"title": "stored with this password", "body": password}
        response = app.test_client().post("/api/notes", json=note)
        assert response.status_code == 201, response.get_json()
    finally:
        app.extensions["berth_db"].dispose()
    assert server.sql("SELECT body FROM notes").rstrip("\n") == password


# -- the dev stack's database service (COMPOSE_PROFILES=db or --profile db) ---------------------


def service(tmp_path, **settings) -> dict:
    password = tmp_path / "db_password"
    password.write_text(PASSWORDS[0] + "\n")
    return {
        "DATABASE_SERVICE": "db",
        "MARIADB_USER": "berth",
        "MARIADB_DATABASE": "berth",
        "MARIADB_PASSWORD_FILE": str(password),
        **settings,
    }


def test_the_database_service_is_used_when_it_runs(tmp_path, monkeypatch):
    looked_up = []
    monkeypatch.setattr("app.config.resolves", lambda host: looked_up.append(host) or True)
    url = database(service(tmp_path))
    assert looked_up == ["db"]
    assert (url.host, url.username, url.database) == ("db", "berth", "berth")
    assert url.password == PASSWORDS[0]  # from the file, its newline dropped


def test_without_the_database_service_the_app_keeps_sqlite(tmp_path, monkeypatch):
    monkeypatch.setattr("app.config.resolves", lambda host: False)
    assert database(service(tmp_path)) is None
    assert database(service(tmp_path, MARIADB_PASSWORD_FILE=str(tmp_path / "none"))) is None


def test_a_database_of_ones_own_wins_over_the_service(tmp_path, monkeypatch):
    monkeypatch.setattr("app.config.resolves", lambda host: pytest.fail("looked up the service"))
    url = database(service(tmp_path, DATABASE_URL="sqlite:////tmp/mine.sqlite3"))
    assert url.database == "/tmp/mine.sqlite3"
    assert database(service(tmp_path, **PARTS)).host == "db"


def test_the_service_needs_its_user_and_a_readable_password(tmp_path, monkeypatch):
    monkeypatch.setattr("app.config.resolves", lambda host: True)
    settings = service(tmp_path)
    del settings["MARIADB_USER"]
    assert refused(settings) == "MARIADB_USER is required with DATABASE_SERVICE"
    missing = service(tmp_path, MARIADB_PASSWORD_FILE=str(tmp_path / "none"))
    assert refused(missing).startswith(f"MARIADB_PASSWORD_FILE {str(tmp_path / 'none')!r} cannot")


def test_a_name_that_resolves_nowhere_is_not_a_service():
    from app.config import resolves

    assert not resolves("berth-no-such-service.invalid")
    assert resolves("localhost")
