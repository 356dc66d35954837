"""Every problem of a rejected upload, for the full error report.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_problems",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["upload_requests.id"],
            name=op.f("fk_upload_problems_request_id_upload_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_problems")),
    )
    op.create_index("ix_upload_problems_request_line", "upload_problems", ["request_id", "line"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_upload_problems_request_line", table_name="upload_problems")
    op.drop_table("upload_problems")
