"""The client's Idempotency-Key on an upload request, unique per publisher:
a retried POST returns the request its first try created
(docs/product.md#the-rest-api).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("idempotency_key", sa.String(length=255), nullable=True))
    op.create_unique_constraint(
        "uq_upload_requests_idempotency_key", "upload_requests", ["publisher_id", "idempotency_key"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_upload_requests_idempotency_key", "upload_requests", type_="unique")
    op.drop_column("upload_requests", "idempotency_key")
