"""The prod image on MariaDB (mariadb:11.8): the migration step, notes written and read, and
several containers starting at the same moment on one fresh database."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.harness.docker import HARDENED, base_url, container, docker, wait_for_health
from tools.harness.mariadb import MariaDB, mariadb, network
from tools.harness.net import http, wait_for_http


@pytest.fixture(scope="module")
def server(docker_engine):
    with network() as net, mariadb(net) as db:
        yield db


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
    assert "berth-test-password" not in step.stdout + step.stderr
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
