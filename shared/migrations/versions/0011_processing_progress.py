"""How far the Code Generator has got through a request it is processing,
for the request list, the request page and `licensecodes upload --wait`
(docs/product.md#processing). Set only while the request is processing;
NULL otherwise.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROGRESS_ONLY_WHILE_PROCESSING = "status = 'processing' OR (lines_checked IS NULL AND bytes_checked IS NULL)"


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("lines_checked", sa.BigInteger(), nullable=True))
    op.add_column("upload_requests", sa.Column("bytes_checked", sa.BigInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_upload_requests_progress_only_while_processing"), "upload_requests", PROGRESS_ONLY_WHILE_PROCESSING
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_upload_requests_progress_only_while_processing"), "upload_requests", type_="check")
    op.drop_column("upload_requests", "bytes_checked")
    op.drop_column("upload_requests", "lines_checked")
