"""The prod image on MariaDB (mariadb:11.8): the migration step, notes written and read, and
several containers starting at the same moment on one fresh database. The server's password
holds every character a URL, a shell or a .env file trips on: the URL tests percent-encode it,
and it also comes as a file (DATABASE_PASSWORD_FILE), which then shows in no environment, no
log and no error."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.harness.docker import HARDENED, base_url, container, docker, wait_for_health
from tools.harness.mariadb import MariaDB, mariadb, network
from tools.harness.net import http, wait_for_http

PASSWORD = "p@ss:w/rd%1 #?'\"\\ü"  # noqa: S105
SECRET_FILE = "/run/secrets/db-password"  # noqa: S105 (where the file is in the container)


@pytest.fixture(scope="module")
def server(docker_engine):
    with network() as net, mariadb(net, password=PASSWORD) as db:
        yield db


def file_args(db: MariaDB, password_file: Path | None) -> list[str]:
    """The database as parts, its password a file bind-mounted read-only (what a compose
    secret or a Kubernetes Secret volume gives the container); None: nothing mounted."""
    args = [
        *HARDENED, "--network", db.network,
        "-e", f"DATABASE_HOST={db.name}", "-e", "DATABASE_USER=berth",
        "-e", "DATABASE_NAME=berth", "-e", f"DATABASE_PASSWORD_FILE={SECRET_FILE}",
    ]  # fmt: skip
    if password_file is not None:
        args += ["--mount", f"type=bind,src={password_file},dst={SECRET_FILE},readonly"]
    return args


def password_file(folder: Path, password: str, mode: int = 0o644) -> Path:
    """A file holding `password` and a newline, as `echo ... > file` or a secret store writes
    it; readable by the image's user (10001) unless `mode` says otherwise."""
    path = folder / "db-password"
    path.write_text(password + "\n")
    path.chmod(mode)
    return path


def shown_anywhere(name: str) -> str:
    """What a container shows of itself: its configuration, its process environment, its log."""
    logs = docker("logs", name, check=False)
    environ = docker("exec", name, "cat", "/proc/1/environ", check=False).stdout
    return docker("inspect", name).stdout + environ + logs.stdout + logs.stderr


def fresh(db: MariaDB) -> None:
    for table in db.sql("SHOW TABLES").split():
        db.sql(f"DROP TABLE `{table}`")


def prod_args(db: MariaDB) -> list[str]:
    return [*HARDENED, "--network", db.network, "-e", f"DATABASE_URL={db.network_url()}"]


def test_migrate_command_then_notes_are_written_and_read(prod_image, server):
    fresh(server)
    step = docker(
        "run", "--rm", *prod_args(server), prod_image, "python", "-m", "prod", "migrate",
        check=False,
    )  # fmt: skip
    assert step.returncode == 0, step.stderr
    assert step.stdout.startswith("berth: database at the newest revision"), step.stdout
    assert PASSWORD not in step.stdout + step.stderr
    assert server.sql("SELECT version_num FROM alembic_version").strip() == "0001"

    with container(prod_image, *prod_args(server)) as name:
        url = base_url(name)
        wait_for_http(f"{url}/healthz", timeout=60)
        created = http("POST", f"{url}/api/notes", {"title": "on MariaDB", "body": "ü ✓ 🚀"})
        assert created.status == 201, created.body
        note = created.json()
        assert http("GET", f"{url}/api/notes/{note['id']}").json() == note
        stored = server.sql(f"SELECT body FROM notes WHERE id = {int(note['id'])}")  # noqa: S608
        assert stored.strip() == "ü ✓ 🚀"


def test_migrate_with_a_wrong_password_is_one_line(prod_image, server):
    url = server.network_url(password="wrong")  # noqa: S106
    step = docker(
        "run", "--rm", *HARDENED, "--network", server.network, "-e", f"DATABASE_URL={url}",
        prod_image, "python", "-m", "prod", "migrate", check=False,
    )  # fmt: skip
    assert step.returncode == 1
    lines = step.stderr.strip().splitlines()
    assert len(lines) == 1, step.stderr
    assert lines[0].startswith('berth: cannot migrate: (1045, "Access denied'), lines[0]


def test_two_containers_started_at_once_on_a_fresh_database(prod_image, server):
    fresh(server)
    names = []
    try:
        for _ in range(2):
            names.append(docker("create", *prod_args(server), prod_image).stdout.strip())
        # One `docker start` for both: their masters run the migrations at the same moment.
        docker("start", *names)
        for name in names:
            status, waited = wait_for_health(name, timeout=90)
            logs = docker("logs", name, check=False)
            assert status == "healthy", f"{name} {status} after {waited:.0f} s:\n{logs.stderr}"
        first, second = (base_url(name) for name in names)
        note = http("POST", f"{first}/api/notes", {"title": "shared"}).json()
        assert http("GET", f"{second}/api/notes/{note['id']}").json() == note
        assert server.sql("SELECT COUNT(*) FROM alembic_version").strip() == "1"
    finally:
        for name in names:
            docker("rm", "-f", "-v", name, check=False)


def test_concurrent_requests_on_mariadb_all_succeed(prod_image, server):
    """Requests at once on every app thread of both workers: a pooled connection must never
    move between the worker's threads (gevent: "Cannot switch to a different thread")."""
    fresh(server)
    with container(prod_image, *prod_args(server)) as name:
        url = base_url(name)
        wait_for_http(f"{url}/healthz", timeout=60)

        def burst(i: int) -> list[int]:
            made = http("POST", f"{url}/api/notes", {"title": f"n{i}"}).status
            return [made] + [http("GET", f"{url}/api/notes").status for _ in range(10)]

        with ThreadPoolExecutor(16) as pool:
            statuses = [s for answers in pool.map(burst, range(48)) for s in answers]
        logs = docker("logs", name, check=False)
    assert statuses.count(201) == 48, describe_statuses(statuses)
    assert set(statuses) == {200, 201}, describe_statuses(statuses)
    assert "Cannot switch" not in logs.stdout + logs.stderr


def describe_statuses(statuses: list[int]) -> dict[int, int]:
    return {s: statuses.count(s) for s in sorted(set(statuses))}


def test_password_from_a_file_through_migrate_and_serving(prod_image, server, tmp_path):
    fresh(server)
    args = file_args(server, password_file(tmp_path, PASSWORD))
    step = docker("run", "--rm", *args, prod_image, "python", "-m", "prod", "migrate", check=False)
    assert step.returncode == 0, step.stderr
    assert "berth: database at the newest revision (mysql+pymysql://berth:***@" in step.stdout
    assert PASSWORD not in step.stdout + step.stderr
    with container(prod_image, *args) as name:
        url = base_url(name)
        wait_for_http(f"{url}/healthz", timeout=60)
        created = http("POST", f"{url}/api/notes", {"title": "password from a file"})
        assert created.status == 201, created.body
        assert http("GET", f"{url}/api/notes/{created.json()['id']}").json() == created.json()
        shown = shown_anywhere(name)
    assert PASSWORD not in shown  # docker inspect, /proc/1/environ, the log
    assert SECRET_FILE in shown, "the file's path is what the environment holds"
    assert server.sql("SELECT title FROM notes").strip() == "password from a file"
    db_logs = docker("logs", server.name)
    assert PASSWORD not in db_logs.stdout + db_logs.stderr


def test_a_wrong_password_from_a_file_is_one_line_without_it(prod_image, server, tmp_path):
    wrong = PASSWORD + "-but-wrong"
    args = file_args(server, password_file(tmp_path, wrong))
    step = docker("run", "--rm", *args, prod_image, "python", "-m", "prod", "migrate", check=False)
    assert step.returncode == 1
    lines = step.stderr.strip().splitlines()
    assert len(lines) == 1, step.stderr
    assert lines[0].startswith('berth: cannot migrate: (1045, "Access denied'), lines[0]
    with container(prod_image, *args) as name:
        code = docker("wait", name, timeout=60).stdout.strip()
        shown = shown_anywhere(name)
    assert code != "0"
    assert "berth: cannot start: (1045" in shown
    assert wrong not in step.stdout + step.stderr + shown
    assert "Traceback" not in shown


@pytest.mark.parametrize("problem", ["missing", "unreadable", "empty"])
def test_a_bad_password_file_is_one_line_and_exit_2(prod_image, server, tmp_path, problem):
    """Nothing read, nothing shown: the setting and the path, in one line."""
    if problem == "missing":  # the secret never mounted
        path, why = None, "cannot be read: No such file or directory"
    elif problem == "unreadable":  # root's, 0600: the image's user 10001 may not read it
        path, why = password_file(tmp_path, PASSWORD, 0o600), "cannot be read: Permission denied"
    else:
        path, why = password_file(tmp_path, ""), "is empty"
    # Both commands read the settings alike (unit-tested); both run here for one problem.
    commands = [[], ["python", "-m", "prod", "migrate"]] if problem == "missing" else [[]]
    for command in commands:
        run = docker("run", "--rm", *file_args(server, path), prod_image, *command, check=False)
        assert run.returncode == 2, run.stderr
        verb = "migrate" if command else "start"
        expected = f"berth: cannot {verb}: DATABASE_PASSWORD_FILE '{SECRET_FILE}' {why}"
        assert run.stderr.strip() == expected
        assert PASSWORD not in run.stdout + run.stderr
