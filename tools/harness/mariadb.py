"""A throwaway MariaDB server (the official image's contract) for tests and benchmarks."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from .commands import unique
from .docker import container, docker, published_port, wait_for_health

# The official image, or its name in a company mirror (MARIADB_IMAGE, as compose reads it).
IMAGE = os.environ.get("MARIADB_IMAGE") or "mariadb:11.8"
DATABASE, USER, PASSWORD = "berth", "berth", "berth-test-password"
# The official image's recommended check: TCP accepted and InnoDB ready, not the init phase.
HEALTH = (
    "--health-cmd",
    "healthcheck.sh --connect --innodb_initialized",
    "--health-interval",
    "2s",
    "--health-start-period",
    "60s",
    "--health-start-interval",
    "1s",
    "--health-retries",
    "3",
)


@dataclass(frozen=True)
class MariaDB:
    name: str
    port: int  # on 127.0.0.1
    network: str | None
    password: str = PASSWORD  # the app's user's

    def url(self, password: str | None = None, database: str = DATABASE) -> str:
        """The URL for a process on this machine (through the published port), its password
        percent-encoded as a URL must carry it."""
        secret = quote(self.password if password is None else password, safe="")
        return f"mysql+pymysql://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def network_url(self, password: str | None = None) -> str:
        """The URL for a container on the same Docker network (the server's name as host)."""
        secret = quote(self.password if password is None else password, safe="")
        return f"mysql+pymysql://{USER}:{secret}@{self.name}:3306/{DATABASE}"

    def sql(self, statement: str) -> str:
        """Run SQL as the app's user with the image's client; returns its tab-separated output."""
        return docker(
            "exec", "-e", f"MYSQL_PWD={self.password}", self.name,
            "mariadb", "-u", USER, "-N", "-B", "-r", DATABASE, "-e", statement,
        ).stdout  # fmt: skip

    def with_password(self, password: str) -> MariaDB:
        """The app's user gets a new password, set with the image's client as the entrypoint
        sets the first one (the client sends UTF-8)."""
        self.sql(f"SET PASSWORD = PASSWORD({sql_string(password)})")
        return dataclasses.replace(self, password=password)


def sql_string(value: str) -> str:
    """A MariaDB string literal (backslash escapes are on by default)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def empty(url: str) -> None:
    """Drop every table of the database at `url` (the next app's migrations start afresh)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for (table,) in conn.execute(text("SHOW TABLES")).all():
                conn.execute(text(f"DROP TABLE `{table}`"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def network() -> Iterator[str]:
    name = unique("berth-test-net")
    docker("network", "create", name)
    try:
        yield name
    finally:
        docker("network", "rm", name, check=False)


@contextlib.contextmanager
def mariadb(
    network_name: str | None = None,
    *,
    password: str = PASSWORD,
    aliases: tuple[str, ...] = (),
    timeout: float = 120,
) -> Iterator[MariaDB]:
    """Start a fresh server (data in an anonymous volume, removed with it) and wait until it
    is healthy. `aliases`: more names it answers to on `network_name` (a deployment's host)."""
    args = [
        *HEALTH,
        "-e", "MARIADB_RANDOM_ROOT_PASSWORD=1",
        "-e", f"MARIADB_DATABASE={DATABASE}",
        "-e", f"MARIADB_USER={USER}",
        "-e", f"MARIADB_PASSWORD={password}",
        "-p", "127.0.0.1::3306",
    ]  # fmt: skip
    if network_name:
        args += ["--network", network_name]
        args += [arg for alias in aliases for arg in ("--network-alias", alias)]
    with container(IMAGE, *args, name=unique("berth-test-db")) as name:
        status, waited = wait_for_health(name, timeout=timeout)
        if status != "healthy":
            logs = docker("logs", "--tail", "30", name, check=False)
            raise AssertionError(f"{IMAGE} not healthy after {waited:.0f} s:\n{logs.stderr}")
        host, port = published_port(name, 3306)
        assert host == "127.0.0.1", f"3306 published on {host}, not loopback"
        yield MariaDB(name, port, network_name, password)
