"""A property-based fuzz of the API (hypothesis, a stateful test of a few thousand requests).

Each example is a fresh app and database driven by a random sequence of creates, reads,
replacements, deletes, list pages and odd requests (any method, path, body, Content-Type).
After every step: no 5xx; every answer is JSON with the status a small oracle expects (or
empty, for 204, HEAD and OPTIONS); and the database holds exactly the notes the API
acknowledged.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.parse

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from app import create_app
from app.models import MAX_INT, notes
from app.notes import BODY_MAX, LIMIT_MAX, TITLE_MAX
from tools.harness.mariadb import empty

MAX_BODY_BYTES = 4096  # small, so that 413 is reachable without huge examples

# Text as JSON can carry it: any code point, lone surrogates included (json.dumps escapes them).
any_text = st.text(st.characters(exclude_categories=[]), max_size=40)
boundary_text = st.sampled_from([TITLE_MAX, TITLE_MAX + 1, BODY_MAX, BODY_MAX + 1]).map(
    lambda n: "x" * n
)
text = any_text | boundary_text | st.sampled_from(["", "  ", " title ", "\x00", "\ud800"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=6,
)
field_names = st.sampled_from(["title", "body"]) | any_text
note_objects = st.fixed_dictionaries(
    {"title": text}, optional={"body": text | json_values}
) | st.dictionaries(field_names, text | json_values, max_size=3)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/vnd.x+json"]
) | st.sampled_from([None, "text/plain", "application/x-www-form-urlencoded"])


@st.composite
def bodies(draw) -> tuple[bytes, object]:
    """(raw body, the Python value it encodes or None when it is not JSON)."""
    kind = draw(st.sampled_from(["note", "note", "note", "json", "bytes", "deep", "large"]))
    if kind == "bytes":
        raw = draw(st.binary(max_size=60))
    elif kind == "deep":
        depth = draw(st.integers(1, 2000))
        raw = ("[" * depth + "]" * depth).encode()
    elif kind == "large":
        raw = json.dumps({"title": "t", "body": "x" * draw(st.integers(4000, 5000))}).encode()
    else:
        value = draw(note_objects if kind == "note" else json_values)
        raw = json.dumps(value).encode()
    try:
        return raw, json.loads(raw)
    except (ValueError, RecursionError):
        return raw, None


note_ids = st.integers(0, 50) | st.sampled_from([MAX_INT, MAX_INT + 1, 10**30])
page_values = (
    st.integers(-3, 120).map(str)
    | st.sampled_from([str(MAX_INT), str(MAX_INT + 1), "9" * 400, "", "1.5"])
    | st.sampled_from(["\uff11", "\u0661", " 1", "+1", "0x1", "1_0"])
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
paths = st.sampled_from(["/", "/healthz", "/api/notes", "/api/notes/", "/api/notes/1"]) | (
    any_text.map(lambda t: "/api/notes/" + urllib.parse.quote(t.encode("utf-8", "surrogatepass")))
)


def note_error(value: object) -> int | None:
    """The status the API owes a JSON body, or None when it is a valid note."""
    if not isinstance(value, dict) or set(value) - {"title", "body"}:
        return 400
    title, body = value.get("title"), value.get("body", "")
    if not (isinstance(title, str) and isinstance(body, str)):
        return 400
    title = title.strip()
    if not title or len(title) > TITLE_MAX or len(body) > BODY_MAX:
        return 400
    try:
        (title + body).encode("utf-8")
    except UnicodeEncodeError:
        return 400
    return None


def expected_body_status(raw: bytes, value: object, content_type: str | None) -> int | None:
    if content_type is None or "json" not in content_type:
        return 400
    if len(raw) > MAX_BODY_BYTES:
        return 413
    return note_error(value)


def page_value(raw: str, low: int, high: int) -> int | None:
    ok = raw.isascii() and raw.isdigit() and low <= int(raw) <= high
    return int(raw) if ok else None


class NotesAPI(RuleBasedStateMachine):
    ids = Bundle("ids")
    database_url: str | None = None  # None: SQLite in a temporary folder

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="berth-fuzz-")
        if self.database_url:
            empty(self.database_url)
        self.app = create_app(
            {
                "DATA_DIR": self.folder,
                "DATABASE_URL": self.database_url,
                "MAX_BODY_BYTES": MAX_BODY_BYTES,
                "LOG_LEVEL": "CRITICAL",
            }
        )
        self.client = self.app.test_client()
        self.model: dict[int, tuple[str, str]] = {}  # what the API acknowledged

    def teardown(self) -> None:
        self.app.extensions["berth_db"].dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def send(self, method: str, path: str, raw: bytes | None = None, ctype: str | None = None):
        headers = {"Content-Type": ctype} if ctype else {}
        response = self.client.open(path, method=method, data=raw, headers=headers)
        status = response.status_code
        assert status < 500, (method, path, status, response.data[:300])
        if status == 204 or method == "HEAD" or (method, status) == ("OPTIONS", 200):
            assert response.data == b""
            if method != "HEAD":
                assert "Content-Type" not in response.headers
            return status, None
        if path == "/" and method == "GET":
            assert response.mimetype == "text/plain"
            return status, None
        assert response.mimetype == "application/json", (method, path, response.data[:300])
        answer = json.loads(response.data)
        if status >= 400:
            assert answer["error"]["status"] == status
            assert isinstance(answer["error"]["message"], str)
        return status, answer

    @rule(target=ids, body=bodies(), ctype=content_types)
    def create(self, body, ctype):
        raw, value = body
        status, note = self.send("POST", "/api/notes", raw, ctype)
        expected = expected_body_status(raw, value, ctype) or 201
        assert status == expected, (raw[:200], ctype, status, note)
        if status != 201:
            return multiple()
        assert (note["title"], note["body"]) == (value["title"].strip(), value.get("body", ""))
        assert note["id"] not in self.model
        self.model[note["id"]] = (note["title"], note["body"])
        return note["id"]

    @rule(note_id=ids | note_ids, body=bodies(), ctype=content_types)
    def replace(self, note_id, body, ctype):
        raw, value = body
        status, note = self.send("PUT", f"/api/notes/{note_id}", raw, ctype)
        expected = (
            (404 if note_id > MAX_INT else None)
            or expected_body_status(raw, value, ctype)
            or (200 if note_id in self.model else 404)
        )
        assert status == expected, (note_id, raw[:200], ctype, status, note)
        if status == 200:
            stored = (value["title"].strip(), value.get("body", ""))
            assert (note["id"], note["title"], note["body"]) == (note_id, *stored)
            self.model[note_id] = stored

    @rule(note_id=ids | note_ids)
    def read(self, note_id):
        status, note = self.send("GET", f"/api/notes/{note_id}")
        if note_id in self.model:
            assert status == 200
            assert (note["title"], note["body"]) == self.model[note_id]
        else:
            assert status == 404

    @rule(note_id=consumes(ids) | note_ids)
    def delete(self, note_id):
        status, _ = self.send("DELETE", f"/api/notes/{note_id}")
        assert status == (204 if note_id in self.model else 404)
        self.model.pop(note_id, None)

    @rule(limit=st.none() | page_values, offset=st.none() | page_values)
    def list_page(self, limit, offset):
        query = {k: v for k, v in (("limit", limit), ("offset", offset)) if v is not None}
        status, page = self.send("GET", "/api/notes?" + urllib.parse.urlencode(query))
        size = 50 if limit is None else page_value(limit, 1, LIMIT_MAX)
        start = 0 if offset is None else page_value(offset, 0, MAX_INT)
        if size is None or start is None:
            assert status == 400
            assert set(page["error"]["fields"]) <= {"limit", "offset"}
            return
        assert status == 200
        newest_first = sorted(self.model, reverse=True)[start : start + size]
        assert [n["id"] for n in page] == newest_first
        assert [(n["title"], n["body"]) for n in page] == [self.model[i] for i in newest_first]

    @rule(method=methods, path=paths, body=st.none() | bodies(), ctype=content_types)
    def anything(self, method, path, body, ctype):
        # Only the shape is checked here; the invariant catches any write it should not do.
        before = dict(self.model)
        status, answer = self.send(method, path, None if body is None else body[0], ctype)
        if (method == "POST" and status == 201) or (method == "PUT" and status == 200):
            self.model[answer["id"]] = (answer["title"], answer["body"])
        elif method == "DELETE" and status == 204:
            self.model.pop(int(path.rsplit("/", 1)[1]))
        else:
            assert self.model == before

    @invariant()
    def store_equals_what_was_acknowledged(self):
        with self.app.extensions["berth_db"].connect() as conn:
            rows = conn.execute(select(notes.c.id, notes.c.title, notes.c.body)).all()
        assert {i: (t, b) for i, t, b in rows} == self.model


NotesAPI.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_api_fuzz = NotesAPI.TestCase


@pytest.mark.docker
def test_api_fuzz_on_mariadb(mariadb_server):
    class OnMariaDB(NotesAPI):
        database_url = mariadb_server.url()

    run_state_machine_as_test(OnMariaDB, settings=NotesAPI.TestCase.settings)
