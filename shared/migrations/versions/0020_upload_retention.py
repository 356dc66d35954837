"""Uploaded files kept for a time: when a request's file was deleted
(docs/product.md#how-long-uploaded-files-are-kept).

Revision ID: 0020_upload_retention
Revises: 0017_request_product_rules
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_upload_retention"
down_revision: str | None = "0017_request_product_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("file_deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("upload_requests", "file_deleted_at")
