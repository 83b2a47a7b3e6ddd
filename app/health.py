"""The landing page and the health check used by Docker and load balancers."""

from flask import Blueprint, current_app
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from .db import get_db, schema_ready
from .engine import describe

bp = Blueprint("health", __name__)

INDEX_TEXT = """\
berth: a small JSON notes service

GET    /healthz               200 when the database answers, 503 otherwise
GET    /api/notes             list notes, newest first (?limit=1..100&offset=0..)
POST   /api/notes             create a note {"title": "...", "body": "..."}
GET    /api/notes/<id>        read a note
PUT    /api/notes/<id>        replace a note's title and body
DELETE /api/notes/<id>        delete a note
"""


@bp.get("/")
def index() -> ResponseReturnValue:
    return INDEX_TEXT, 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        # Read the schema, not the notes: the cost stays flat as the table grows, and unlike
        # "SELECT 1" it fails when the file was replaced by an empty one or the folder vanished.
        ready = schema_ready(get_db())
    except SQLAlchemyError as e:
        # A server that is down or refuses us: a quick 503 (short connect timeouts), one line.
        error = describe(e)
        current_app.logger.warning("Health check failed: %s", error)
        return {"status": "unavailable", "error": error}, 503
    if not ready:
        current_app.logger.warning("Health check failed: the notes table is missing")
        return {"status": "unavailable", "error": "the notes table is missing"}, 503
    return {"status": "ok"}
