"""Reading a request's JSON body: size limit, server read errors and parse errors as 4xx."""

import json

from flask import abort, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge


def read_body() -> bytes:
    """The whole request body; 413 when it is longer than MAX_BODY_BYTES, also when chunked."""
    limit = current_app.config["MAX_BODY_BYTES"]
    # Werkzeug's stream stops quietly at the maximum (LimitedStream.readall() never reads past
    # it), so a chunked body longer than the limit would come back cut, not refused. Allow one
    # byte more and look: more than the limit means the body was too large.
    request.max_content_length = limit + 1
    try:
        data = request.get_data(cache=False)
    except HTTPException:
        raise
    except Exception:  # the WSGI server's own reader: broken chunked framing and the like
        abort(400, "Request body could not be read (malformed chunked encoding?).")
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def json_object() -> dict:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        abort(400, "Content-Type must be application/json.")
    # Parsed here, not with request.get_json(): Flask answers a wrong Content-Type with 415 and
    # hides the reason for malformed JSON.
    try:
        data = json.loads(read_body())
    except RecursionError:
        abort(400, "Request body is nested too deeply.")
    except ValueError:  # also invalid UTF-8 and integers too long to convert
        abort(400, "Request body is not valid JSON.")
    if not isinstance(data, dict):
        abort(400, "Request body must be a JSON object.")
    return data
