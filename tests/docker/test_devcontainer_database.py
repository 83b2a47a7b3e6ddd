"""The dev container with the database switched on in .env (COMPOSE_PROFILES=db): the same
switch as `make up`, MariaDB started first, the app and the in-container tools on it."""

import os

import pytest

from tools.harness.commands import describe
from tools.harness.devcontainer import DevContainer, find_cli
from tools.harness.net import free_port, http
from tools.harness.project import chown_tree, copy_project

IMAGE_UID = 1000


@pytest.fixture(scope="module")
def db_dev_container(docker_engine, tmp_path_factory):
    cli, problem = find_cli()
    if cli is None:
        pytest.fail(problem, pytrace=False)
    workspace = copy_project(tmp_path_factory.mktemp("devcontainer-db") / "berth")
    (workspace / ".env").write_text(f"COMPOSE_PROFILES=db\nDB_PORT={free_port()}\n")
    if os.getuid() == 0:  # as in test_devcontainer.py: the remote user owns the checkout
        chown_tree(workspace, IMAGE_UID, IMAGE_UID)
    container = DevContainer(cli, workspace, tmp_path_factory.mktemp("cli"))
    try:
        container.up()
        yield container
    finally:
        container.down()
        container.remove_images()


def test_the_app_in_the_dev_container_uses_mariadb(db_dev_container):
    assert http("GET", f"{db_dev_container.url}/healthz").status == 200
    note = http("POST", f"{db_dev_container.url}/api/notes", {"title": "via devcontainer"})
    assert note.status == 201
    # The container's view: the settings name the db service, the password is a file, and the
    # migrations are current.
    current = db_dev_container.exec("python", "-m", "app.migrate", "current")
    assert current.returncode == 0, describe(current)
    assert "0001 (head)" in current.stdout + current.stderr
    env = db_dev_container.exec("printenv")
    settings = dict(line.split("=", 1) for line in env.stdout.splitlines() if "=" in line)
    assert settings["DATABASE_SERVICE"] == "db", describe(env)
    password_file = settings["MARIADB_PASSWORD_FILE"]
    assert password_file == "/run/secrets/db_password"  # noqa: S105 (a path)
    assert not {"DATABASE_URL", "DATABASE_HOST"} & set(settings)
    password = db_dev_container.exec("cat", password_file).stdout
    assert password.strip() == "berth-dev-password"  # the dev default
    assert password.strip() not in env.stdout
