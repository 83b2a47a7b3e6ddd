"""The notes table and its list-order index (the schema from before migrations).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_title = sa.String(200).with_variant(sa.Text(), "sqlite")
_timestamp = sa.String(24).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("title", _title, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _timestamp, nullable=False),
        sa.Column("updated_at", _timestamp, nullable=False),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
    )
    op.create_index("notes_by_created", "notes", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("notes_by_created", table_name="notes")
    op.drop_table("notes")
