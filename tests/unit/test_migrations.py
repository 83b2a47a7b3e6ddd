"""The schema comes from the migrations only, and they match app/models.py."""

import sqlite3
import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app import create_app, migrate
from app.models import metadata


def test_models_and_migrations_agree(app):
    """As `makemigrations --check` in Django projects' CI: a model change without a migration
    (or the reverse) fails here."""
    with app.extensions["berth_db"].connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrations_are_at_head(app):
    with app.extensions["berth_db"].connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == migrate.head()


def test_a_database_from_before_migrations_is_adopted(clean_env, tmp_path):
    old = sqlite3.connect(tmp_path / "notes.sqlite3")
    old.executescript(
        """
        CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
            body TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE INDEX notes_by_created ON notes (created_at, id);
        INSERT INTO notes VALUES (7, 'kept', '', '2024-01-01T00:00:00.000Z',
            '2024-01-01T00:00:00.000Z');
        """
    )
    old.commit()
    old.close()
    client = create_app({"DATA_DIR": tmp_path}).test_client()
    assert client.get("/api/notes/7").get_json()["title"] == "kept"


def test_simultaneous_migrations_on_one_sqlite_file(clean_env, tmp_path):
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        try:
            migrate.upgrade(tmp_path / "notes.sqlite3")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    client = create_app({"DATA_DIR": tmp_path, "INIT_DB": False}).test_client()
    assert client.get("/healthz").status_code == 200
