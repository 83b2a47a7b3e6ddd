"""The JSON notes API: /api/notes."""

from datetime import UTC, datetime

from flask import Blueprint, Flask, abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, delete, insert, select, update
from werkzeug.routing import IntegerConverter

from setting import whole_number

from .body import json_object
from .db import get_db
from .errors import ValidationError
from .models import MAX_INT, notes

bp = Blueprint("notes", __name__, url_prefix="/api/notes")

TITLE_MAX = 200
BODY_MAX = 10_000
NOTE_FIELDS = ("title", "body")
LIMIT_DEFAULT, LIMIT_MAX = 50, 100


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fetch_note(conn: Connection, note_id: int) -> dict | None:
    row = conn.execute(select(notes).where(notes.c.id == note_id)).mappings().first()
    return dict(row) if row is not None else None


class NoteIdConverter(IntegerConverter):
    """Note ids in URLs: ASCII digits only (IntegerConverter's \\d matches any script's digits,
    so /api/notes/%EF%BC%91, a fullwidth one, was note 1), and few enough for int()."""

    regex = r"[0-9]{1,19}"


def _query_int(name: str, default: int, low: int, high: int = MAX_INT) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # Settings may be padded with spaces (an .env line); a URL's parameters may not.
    value = whole_number(raw, low, high) if raw == raw.strip() else None
    if value is None:
        raise ValidationError(
            f"Invalid query parameter {name!r}.",
            {name: f"must be an integer between {low} and {high}"},
        )
    return value


def _text_error(value: object, max_length: int, required: bool) -> str | None:
    """What is wrong with one text field of a note (already stripped if it is a title)."""
    if value is None and required:
        return "is required"
    if not isinstance(value, str):
        return "must be a string"
    if required and not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    # JSON can spell lone surrogates ("\\ud800"); they are not text and SQLite cannot store them.
    if not value.isascii() and _has_surrogates(value):
        return "must not contain unpaired surrogates"
    return None


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _note_from_request() -> tuple[str, str]:
    """Parse and validate the request body into (title, body)."""
    data = json_object()
    unknown = sorted(set(data) - set(NOTE_FIELDS))
    if unknown:
        raise ValidationError(
            f"Unknown fields: {', '.join(unknown)}.", dict.fromkeys(unknown, "unknown field")
        )
    title, body = data.get("title"), data.get("body", "")
    if isinstance(title, str):
        title = title.strip()
    checks = {
        "title": _text_error(title, TITLE_MAX, required=True),
        "body": _text_error(body, BODY_MAX, required=False),
    }
    errors = {name: error for name, error in checks.items() if error}
    if errors:
        raise ValidationError("Invalid note.", errors)
    return title, body


def init_app(app: Flask) -> None:
    app.url_map.converters["note_id"] = NoteIdConverter


@bp.url_value_preprocessor
def _refuse_ids_sqlite_cannot_hold(endpoint: str | None, values: dict | None) -> None:
    # Here rather than in the converter: Werkzeug turns a converter's ValidationError into a
    # 405 when another method's rule for the same path was tried first.
    if values and values.get("note_id", 0) > MAX_INT:
        abort(404, f"Note {values['note_id']} not found.")


@bp.get("")
def list_notes() -> ResponseReturnValue:
    limit = _query_int("limit", LIMIT_DEFAULT, 1, LIMIT_MAX)
    offset = _query_int("offset", 0, 0)
    query = (
        select(notes)
        .order_by(notes.c.created_at.desc(), notes.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return jsonify([dict(row) for row in get_db().execute(query).mappings()])


@bp.post("")
def create_note() -> ResponseReturnValue:
    title, body = _note_from_request()
    now = utc_now()
    conn = get_db()
    # Reading back inside the transaction: the response shows exactly what was stored,
    # and any failure before commit leaves no half-created note behind.
    with conn.begin():
        result = conn.execute(
            insert(notes).values(title=title, body=body, created_at=now, updated_at=now)
        )
        note = fetch_note(conn, result.inserted_primary_key[0])
    location = url_for("notes.get_note", note_id=note["id"])
    return note, 201, {"Location": location}


@bp.get("/<note_id:note_id>")
def get_note(note_id: int) -> ResponseReturnValue:
    note = fetch_note(get_db(), note_id)
    if note is None:
        abort(404, f"Note {note_id} not found.")
    return note


@bp.put("/<note_id:note_id>")
def replace_note(note_id: int) -> ResponseReturnValue:
    title, body = _note_from_request()
    conn = get_db()
    with conn.begin():
        result = conn.execute(
            update(notes)
            .where(notes.c.id == note_id)
            .values(title=title, body=body, updated_at=utc_now())
        )
        note = fetch_note(conn, note_id) if result.rowcount else None
    if note is None:
        abort(404, f"Note {note_id} not found.")
    return note


@bp.delete("/<note_id:note_id>")
def delete_note(note_id: int) -> ResponseReturnValue:
    conn = get_db()
    with conn.begin():
        result = conn.execute(delete(notes).where(notes.c.id == note_id))
    if not result.rowcount:
        abort(404, f"Note {note_id} not found.")
    return "", 204
