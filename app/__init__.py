"""berth: a Flask JSON notes service. Gunicorn runs it as `app:create_app()`."""

import os
from collections.abc import Mapping

from flask import Flask

from . import db, errors, health, notes
from .config import load_settings, prepare_data_dir


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the app from environment variables, with `config` taking precedence."""
    overrides = dict(config or {})
    settings = load_settings(os.environ, overrides)

    app = Flask(__name__)
    app.config.update(overrides)
    app.config.update(settings)
    app.logger.setLevel(settings["LOG_LEVEL"])

    data_dir = prepare_data_dir(settings["DATA_DIR"] or app.instance_path)
    app.config["DATA_DIR"] = data_dir
    app.config["DATABASE"] = data_dir / db.DB_FILENAME
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]

    db.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(notes.bp)

    app.logger.info("berth started: database %s", app.config["DATABASE"])
    return app
