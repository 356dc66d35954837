"""The database session doing a claim's work, so that the sweep can end one
that outlived its lease (a paused worker's transaction held its locks and
blocked the retry: tests/faults).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("claim_backend_pid", sa.Integer(), nullable=True))
    op.add_column("upload_requests", sa.Column("claim_backend_start", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("upload_requests", "claim_backend_start")
    op.drop_column("upload_requests", "claim_backend_pid")
