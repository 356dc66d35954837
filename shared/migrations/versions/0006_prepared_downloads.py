"""The download a completed request has prepared (shared.loading.prepared_download):
served as stored instead of sorting the request's codes by line at every
download (bench/README.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("codes_blob_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_upload_requests_codes_blob_id_upload_blobs"),
        "upload_requests",
        "upload_blobs",
        ["codes_blob_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_upload_requests_codes_blob_id_upload_blobs"), "upload_requests", type_="foreignkey")
    op.drop_column("upload_requests", "codes_blob_id")
