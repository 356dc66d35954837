"""Uploaded bytes stored without compression: PostgreSQL's pglz spent about
a second on every 35 MB uploaded (more than half of the upload's time) to
save almost nothing on files of random codes (bench/README.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTENDED")
