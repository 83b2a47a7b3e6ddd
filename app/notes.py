"""The JSON notes API: /api/notes."""

import json
from datetime import UTC, datetime

from flask import Blueprint, abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from .db import get_db
from .errors import ValidationError

bp = Blueprint("notes", __name__, url_prefix="/api/notes")

TITLE_MAX = 200
BODY_MAX = 10_000
NOTE_FIELDS = ("title", "body")
LIMIT_DEFAULT, LIMIT_MAX = 50, 100


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fetch_note(conn, note_id: int) -> dict | None:
    return conn.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()


def _query_int(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # isdigit() also refuses "-1", "1.5" and " 7", which int() would partly accept.
    value = int(raw) if raw.isascii() and raw.isdigit() else None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValidationError(
            f"Invalid query parameter {name!r}.", {name: f"must be an integer {bounds}"}
        )
    return value


def _note_from_request() -> tuple[str, str]:
    """Parse and validate the request body into (title, body)."""
    if not request.is_json:
        abort(400, "Content-Type must be application/json.")
    # Parse ourselves: Flask answers a wrong Content-Type with 415 and hides the
    # reason for malformed JSON; get_data() still enforces MAX_CONTENT_LENGTH (413).
    try:
        data = json.loads(request.get_data(cache=False))
    except ValueError:
        abort(400, "Request body is not valid JSON.")
    if not isinstance(data, dict):
        abort(400, "Request body must be a JSON object.")

    unknown = sorted(set(data) - set(NOTE_FIELDS))
    if unknown:
        raise ValidationError(
            f"Unknown fields: {', '.join(unknown)}.", dict.fromkeys(unknown, "unknown field")
        )

    errors: dict[str, str] = {}
    title = data.get("title")
    if title is None:
        errors["title"] = "is required"
    elif not isinstance(title, str):
        errors["title"] = "must be a string"
    elif not (title := title.strip()):
        errors["title"] = "must not be empty"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"must be at most {TITLE_MAX} characters"

    body = data.get("body", "")
    if not isinstance(body, str):
        errors["body"] = "must be a string"
    elif len(body) > BODY_MAX:
        errors["body"] = f"must be at most {BODY_MAX} characters"

    if errors:
        raise ValidationError("Invalid note.", errors)
    return title, body


@bp.get("")
def list_notes() -> ResponseReturnValue:
    limit = _query_int("limit", LIMIT_DEFAULT, 1, LIMIT_MAX)
    offset = _query_int("offset", 0, 0)
    rows = get_db().execute(
        "SELECT * FROM notes ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return jsonify(rows.fetchall())


@bp.post("")
def create_note() -> ResponseReturnValue:
    title, body = _note_from_request()
    now = utc_now()
    conn = get_db()
    # Reading back inside the transaction: the response shows exactly what was stored,
    # and any failure before commit leaves no half-created note behind.
    with conn:
        cursor = conn.execute(
            "INSERT INTO notes (title, body, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (title, body, now, now),
        )
        note = fetch_note(conn, cursor.lastrowid)
    location = url_for("notes.get_note", note_id=note["id"])
    return note, 201, {"Location": location}


@bp.get("/<int:note_id>")
def get_note(note_id: int) -> ResponseReturnValue:
    note = fetch_note(get_db(), note_id)
    if note is None:
        abort(404, f"Note {note_id} not found.")
    return note


@bp.put("/<int:note_id>")
def replace_note(note_id: int) -> ResponseReturnValue:
    title, body = _note_from_request()
    conn = get_db()
    with conn:
        cursor = conn.execute(
            "UPDATE notes SET title = ?, body = ?, updated_at = ? WHERE id = ?",
            (title, body, utc_now(), note_id),
        )
        note = fetch_note(conn, note_id) if cursor.rowcount else None
    if note is None:
        abort(404, f"Note {note_id} not found.")
    return note


@bp.delete("/<int:note_id>")
def delete_note(note_id: int) -> ResponseReturnValue:
    conn = get_db()
    with conn:
        cursor = conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))
    if not cursor.rowcount:
        abort(404, f"Note {note_id} not found.")
    return "", 204
