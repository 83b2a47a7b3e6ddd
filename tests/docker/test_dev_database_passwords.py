"""The dev stack with its database on and passwords that break a URL, a shell line or a .env
file, each given the way .env.example says: in .env (quoted as it tells) or in a file
(MARIADB_PASSWORD_FILE, read by both the db service and the app). Each stack comes up
healthy and stores a note in MariaDB, and no log holds the password. (`p@ss:w/rd%1` runs the
whole of test_dev_database.py.)"""

from __future__ import annotations

import secrets
import string

import pytest

from tools.harness.commands import unique
from tools.harness.compose import dev_stack, dotenv_line
from tools.harness.docker import docker
from tools.harness.net import free_port, http
from tools.harness.project import copy_project


def random_password() -> str:
    """64 characters from every printable ASCII class, new on each run."""
    alphabet = string.ascii_letters + string.digits + string.punctuation
    return "".join(secrets.choice(alphabet) for _ in range(64))


# id: (how it is given, the password or a maker of one). Ids are fixed: pytest-xdist workers
# must collect the same tests.
PASSWORDS = {
    "quotes-and-backslash": ("value", lambda: "a#b ?c d\"e'f\\g $h"),
    "random-64": ("file", random_password),
    "non-ascii": ("value", lambda: "pässwörd-密码-🔑"),
}


@pytest.fixture(scope="module", params=list(PASSWORDS))
def password_stack(request, dev_image, tmp_path_factory):
    given, make = PASSWORDS[request.param]
    password = make()
    workspace = copy_project(tmp_path_factory.mktemp("devdb-password") / "berth")
    if given == "value":
        (workspace / ".env").write_text(dotenv_line("MARIADB_PASSWORD", password))
    else:
        # Where .env.example suggests (git- and docker-ignored); readable by the stand-in
        # image's entrypoint, which reads it as the mysql user (the official one, as root).
        (workspace / "secrets").mkdir()
        (workspace / "secrets" / "db-password").write_text(password + "\n")
        (workspace / "secrets" / "db-password").chmod(0o644)
        (workspace / ".env").write_text("MARIADB_PASSWORD_FILE=./secrets/db-password\n")
    # The dev image built once for the session: the stacks differ in their password only.
    with dev_stack(
        workspace,
        unique("berth-devpw"),
        image=dev_image,
        COMPOSE_PROFILES="db",
        DB_PORT=str(free_port()),
    ) as stack:
        yield stack, given, password


def test_comes_up_healthy_and_stores_a_note(password_stack):
    stack, _, password = password_stack
    # `up --wait` returned: both services are healthy, the app's check asks MariaDB.
    assert http("GET", f"{stack.url}/healthz").json() == {"status": "ok"}
    made = http("POST", f"{stack.url}/api/notes", {"title": "stored", "body": password})
    assert made.status == 201, made.body
    stored = stack.sql(f"SELECT body FROM notes WHERE id = {int(made.json()['id'])}")  # noqa: S608
    assert stored == password


def test_the_password_is_in_no_log_and_a_file_in_no_environment(password_stack):
    stack, given, password = password_stack
    logs = stack.logs("web", "db")
    assert "berth started: database mysql+pymysql://berth:***@db/berth" in logs, logs[-2000:]
    assert password not in logs
    if given == "file":
        for service in ("web", "db"):
            config = docker("inspect", "--format", "{{json .Config}}", stack.container(service))
            assert password not in config.stdout, service
