"""The SHA-256 of a completed request's download, kept so that the download
can carry it in a header and the request page can show it
(docs/product.md#the-download).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("codes_sha256", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_upload_requests_codes_sha256_hex"),
        "upload_requests",
        "codes_sha256 IS NULL OR codes_sha256 ~ '^[0-9a-f]{64}$'",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_upload_requests_codes_sha256_hex"), "upload_requests", type_="check")
    op.drop_column("upload_requests", "codes_sha256")
