"""Every error, from validation to an unhandled exception, answers the same JSON shape.

    {"error": {"status": 400, "message": "...", "fields": {"title": "..."}}}

"fields" appears only on validation errors. Clients never get HTML or a traceback, and an
answer without a body (204, OPTIONS) carries no Content-Type either.
"""

from flask import Flask, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError


class ValidationError(BadRequest):
    """A 400 that says which request fields were wrong and why."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(description=message)
        self.fields = fields


def error_document(status: int, message: str, fields: dict[str, str] | None = None) -> dict:
    """The JSON every error answers with (also the prod server's own, prod/worker.py)."""
    error: dict[str, object] = {"status": status, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def error_response(status: int, message: str, fields: dict[str, str] | None = None):
    response = jsonify(error_document(status, message, fields))
    response.status_code = status
    return response


def handle_http_exception(e: HTTPException) -> ResponseReturnValue:
    message = e.description or e.name
    if e.code == 413:
        limit = current_app.config["MAX_BODY_BYTES"]
        message = f"Request body is larger than the {limit} byte limit."
    response = error_response(e.code or 500, message, getattr(e, "fields", None))
    # Keep protocol headers such as Allow on a 405; drop werkzeug's HTML Content-Type.
    for name, value in e.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_internal_error(e: InternalServerError) -> ResponseReturnValue:
    # Flask has already logged the original exception with its traceback (log_exception)
    # before calling this; the client only gets a generic message.
    return error_response(500, "Internal server error.")


def handle_database_unavailable(e: DBAPIError) -> ResponseReturnValue:
    # The database server is down or unreachable: the client may retry, unlike a 500.
    if not e.connection_invalidated and not _is_connection_error(e):
        raise e
    current_app.logger.warning("Database unavailable: %s", " ".join(str(e.orig).split()))
    return error_response(503, "Database unavailable, try again later.")


def _is_connection_error(e: DBAPIError) -> bool:
    # PyMySQL's codes for "cannot connect" (2003), "server gone" (2006), "lost" (2013).
    code = getattr(e.orig, "args", (None,))[0] if e.orig is not None else None
    return code in (2003, 2006, 2013)


def drop_empty_content_type(response: Response) -> Response:
    # Werkzeug labels every response text/html by default, also the empty ones (204, Flask's
    # automatic OPTIONS answer); an empty body has no media type.
    if not response.is_streamed and response.calculate_content_length() == 0:
        response.headers.pop("Content-Type", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(drop_empty_content_type)
    app.register_error_handler(HTTPException, handle_http_exception)
    # Unhandled exceptions reach handlers as InternalServerError (when not propagated).
    app.register_error_handler(InternalServerError, handle_internal_error)
    app.register_error_handler(DBAPIError, handle_database_unavailable)
