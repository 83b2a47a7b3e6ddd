"""berth: a Flask JSON notes service. Gunicorn runs it through `prod.startup.worker_app()`."""

import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from .config import DEFAULT_DATA_DIR, ENV_SETTINGS, load_settings, prepare_data_dir

# The version the build info metric reports (pyproject.toml has the same; a test checks).
__version__ = "0.1.0"

DEFAULTS = {
    # JSON 500s even in debug mode: Flask would otherwise re-raise and let the server (Werkzeug's
    # dev server) answer with its HTML page. The traceback still goes to the log.
    "PROPAGATE_EXCEPTIONS": False,
    # Run the migrations at start. gunicorn's workers get False: its master has done it once.
    "INIT_DB": True,
    # The version the build info metric reports.
    "VERSION": __version__,
}


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the app from environment variables, with `config` taking precedence."""
    # Imported here, not with the package: `python -m prod` reads app.config before gunicorn
    # starts, and answers a bad setting faster without the data layer loaded.
    from . import db, engine, errors, health, logs, notes, request_id

    overrides = dict(config or {})
    # The app's own settings (environment, then overrides) are validated; other keys are
    # plain Flask config. Each override is applied once, by one of the two.
    settings = load_settings(os.environ, overrides)

    app = Flask(__name__, instance_path=str(DEFAULT_DATA_DIR))
    app.config.update(DEFAULTS)
    app.config.update({k: v for k, v in overrides.items() if k not in ENV_SETTINGS})
    app.config.update(settings)
    logs.init_app(app)
    app.logger.setLevel(settings["LOG_LEVEL"])

    data_dir = prepare_data_dir(settings["DATA_DIR"] or app.instance_path)
    app.config["DATA_DIR"] = data_dir
    url = settings["DATABASE_URL"] or engine.sqlite_url(data_dir / engine.DB_FILENAME)
    app.config["DATABASE_URL"] = url
    # The SQLite file, when that is the database (tests and tools read it directly).
    app.config["DATABASE"] = Path(url.database) if url.get_backend_name() == "sqlite" else None
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]

    if app.config["INIT_DB"]:
        # Imported only then (Alembic): gunicorn's workers get False, its master migrated.
        from . import migrate

        migrate.upgrade(url)
    db.init_app(app)
    errors.init_app(app)
    notes.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(notes.bp)
    if settings["METRICS_PORT"]:
        # Imported only then: with the metrics off, prometheus_client is never loaded.
        from . import metrics

        metrics.init_app(app)
    request_id.init_app(app)

    shown = app.config["DATABASE"] or url.render_as_string(hide_password=True)
    app.logger.info("berth started: database %s", shown)
    return app
