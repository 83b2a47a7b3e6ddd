"""The dev stack with its database switched on the compose-native way (`--profile db`; the
other dev database tests use COMPOSE_PROFILES=db): MariaDB first, then the app, which uses it;
the app rides out a database restart; reload and the debugger work as without it; the data
survives `down`/`up`. All of it with a password that breaks a URL pasted together, set in .env
as .env.example says: no log shows it."""

import time
from datetime import datetime

import pytest

from tools.harness import devlog, editors
from tools.harness.commands import describe, unique
from tools.harness.compose import ComposeStack, dev_stack, dotenv_line
from tools.harness.docker import docker, inspect
from tools.harness.net import free_port, http, wait_for_http
from tools.harness.project import copy_project

# The password of the first report: compose pasted it into a URL, which then did not parse.
PASSWORD = "p@ss:w/rd%1"  # noqa: S105


@pytest.fixture(scope="module")
def db_stack(docker_engine, tmp_path_factory):
    workspace = copy_project(tmp_path_factory.mktemp("devdb") / "berth")
    (workspace / ".env").write_text(dotenv_line("MARIADB_PASSWORD", PASSWORD))
    with dev_stack(
        workspace, unique("berth-devdb"), profiles=("db",), DB_PORT=str(free_port())
    ) as stack:
        yield stack


def container_of(stack: ComposeStack, service: str) -> str:
    result = stack.compose("ps", "-aq", service, timeout=60)
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


def assert_in_no_log(stack: ComposeStack, password: str) -> None:
    logs = stack.logs("web", "db")
    assert "berth started: database mysql+pymysql://" in logs, logs[-2000:]
    assert password not in logs


def healthy_at(container: str) -> int:
    """When the container first became healthy (ns since the epoch), from the engine's events:
    the health log keeps only the last few checks."""
    since = inspect(container, "{{.State.StartedAt}}")
    events = docker(
        "events", "--since", since, "--until", str(time.time()),
        "--filter", f"container={container}", "--filter", "event=health_status",
        "--format", "{{.Status}} {{.TimeNano}}",
        timeout=30,
    ).stdout.split("\n")  # fmt: skip
    return min(int(e.split()[-1]) for e in events if e.startswith("health_status: healthy"))


def test_app_starts_after_the_database_is_healthy_and_uses_it(db_stack):
    db, web = container_of(db_stack, "db"), container_of(db_stack, "web")
    started = datetime.fromisoformat(inspect(web, "{{.State.StartedAt}}")[:26] + "+00:00")
    assert started.timestamp() * 1e9 > healthy_at(db)
    assert http("GET", f"{db_stack.url}/healthz").status == 200
    note = http("POST", f"{db_stack.url}/api/notes", {"title": "in MariaDB"}).json()
    stored = db_stack.sql(f"SELECT title FROM notes WHERE id = {int(note['id'])}")  # noqa: S608
    assert stored == "in MariaDB"


def test_database_down_is_503_and_the_app_recovers_without_a_restart(db_stack):
    note = http("POST", f"{db_stack.url}/api/notes", {"title": "before the outage"}).json()
    web = container_of(db_stack, "web")
    started = inspect(web, "{{.State.StartedAt}}")
    assert db_stack.compose("kill", "db", timeout=60).returncode == 0
    answer, _ = wait_for_http(f"{db_stack.url}/healthz", expect=503, timeout=20)
    assert answer.json()["status"] == "unavailable"
    assert http("GET", f"{db_stack.url}/api/notes").status == 503
    assert db_stack.compose("start", "db", timeout=120).returncode == 0
    wait_for_http(f"{db_stack.url}/healthz", timeout=120)
    assert http("GET", f"{db_stack.url}/api/notes/{note['id']}").json() == note
    assert inspect(web, "{{.State.StartedAt}}") == started, "the app was restarted"


def test_reload_and_the_debugger_work_with_the_database_on(db_stack):
    target = db_stack.target()  # creates its note in MariaDB
    target.edit(within=editors.RECOVERY_SECONDS)
    editors.attach_and_hit(target)


def test_a_reload_imports_no_library_with_the_database_on(db_stack):
    """As without the database: the standby has preloaded SQLAlchemy, Alembic and PyMySQL."""
    target = db_stack.target()
    for _ in range(2):
        time.sleep(2)  # the standby starts once the new app process has loaded, then preloads
        target.edit(within=editors.RECOVERY_SECONDS)
    last = devlog.loads(db_stack.logs())[-1]
    assert last.libraries == 0, last
    assert "pymysql" in devlog.loads(db_stack.logs())[0].names  # learned from the first load


def test_the_password_is_in_no_log(db_stack):
    # A failed health check and a database outage have been logged by now, in module order.
    assert http("GET", f"{db_stack.url}/api/notes").status == 200
    assert_in_no_log(db_stack, PASSWORD)


def test_data_survives_down_and_up(db_stack):
    note = http("POST", f"{db_stack.url}/api/notes", {"title": "kept across down/up"}).json()
    result = db_stack.compose("down", "-t", "3", timeout=180)
    assert result.returncode == 0, describe(result)
    db_stack.up()
    assert http("GET", f"{db_stack.url}/api/notes/{note['id']}").json() == note
