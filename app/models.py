"""The tables, as SQLAlchemy Core metadata: what the queries use and what Alembic compares the
migrations with (tests/unit/test_migrations.py fails when the two disagree)."""

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

# Ids, offsets and limits are bound as signed 64-bit integers on both backends.
MAX_INT = 2**63 - 1

metadata = MetaData()

# On SQLite, TEXT and a 64-bit INTEGER PRIMARY KEY (the rowid) as the schema always had; on
# MariaDB a BIGINT key and VARCHARs, which it can index without a prefix length.
_id = BigInteger().with_variant(Integer(), "sqlite")
_title = String(200).with_variant(Text(), "sqlite")
# ISO 8601 UTC with milliseconds: "2026-01-31T12:00:00.000Z", 24 characters, sorts as time.
_timestamp = String(24).with_variant(Text(), "sqlite")

notes = Table(
    "notes",
    metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("title", _title, nullable=False),
    Column("body", Text(), nullable=False),
    Column("created_at", _timestamp, nullable=False),
    Column("updated_at", _timestamp, nullable=False),
    # Serves the list order (newest first) straight from the index: no sort of the table.
    Index("notes_by_created", "created_at", "id"),
    sqlite_autoincrement=True,
    # 4-byte UTF-8 (emoji) whatever the server's default character set is.
    mysql_charset="utf8mb4",
)
