"""An index on when decided requests finished: /metrics and the operator
page count the last hour's decisions on every scrape and every view.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_upload_requests_decided_finished",
        "upload_requests",
        ["finished_at"],
        postgresql_where=sa.text("status IN ('completed', 'rejected')"),
    )


def downgrade() -> None:
    op.drop_index("ix_upload_requests_decided_finished", table_name="upload_requests")
