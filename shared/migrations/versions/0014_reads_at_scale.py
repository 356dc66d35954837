"""Reads at scale: the counts of codes by product, code type and status,
kept with the codes, and the indexes that start every page of codes and of
requests at its first row (docs/architecture.md#reads-at-scale).

The counts of a server that already holds codes are taken here once, by
counting them; from then on the Code Generator keeps them. Building the
codes index reads the whole table once: minutes on tens of millions of
codes, while uploads wait (docs/operating.md#upgrading).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_counts",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("code_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("codes", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("code_type IN ('activation', 'evaluation')", name=op.f("ck_code_counts_code_type_known")),
        sa.CheckConstraint(
            "status IN ('available', 'reserved', 'distributed')", name=op.f("ck_code_counts_status_known")
        ),
        sa.CheckConstraint("codes >= 0", name=op.f("ck_code_counts_codes_not_negative")),
        sa.PrimaryKeyConstraint("product_id", "code_type", "status", name=op.f("pk_code_counts")),
    )
    op.execute(
        "INSERT INTO code_counts (product_id, code_type, status, codes) "
        "SELECT product_id, code_type, status, count(*) FROM license_codes GROUP BY 1, 2, 3"
    )
    op.create_index(
        "ix_license_codes_product_status_code", "license_codes", ["product_id", "status", "code"], unique=False
    )
    op.drop_index("ix_upload_requests_product_id", table_name="upload_requests")
    op.create_index(
        "ix_upload_requests_publisher_status_created",
        "upload_requests",
        ["publisher_id", "status", sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_upload_requests_product_created", "upload_requests", ["product_id", sa.text("id DESC")], unique=False
    )
    op.create_index(
        "ix_upload_requests_product_status_created",
        "upload_requests",
        ["product_id", "status", sa.text("id DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_upload_requests_product_status_created", table_name="upload_requests")
    op.drop_index("ix_upload_requests_product_created", table_name="upload_requests")
    op.drop_index("ix_upload_requests_publisher_status_created", table_name="upload_requests")
    op.create_index("ix_upload_requests_product_id", "upload_requests", ["product_id"], unique=False)
    op.drop_index("ix_license_codes_product_status_code", table_name="license_codes")
    op.drop_table("code_counts")
