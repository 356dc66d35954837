"""The foreign-duplicate budget: per publisher and UTC day, how many codes
existing under another publisher it was named, and how many were withheld.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "foreign_duplicate_budgets",
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("named", sa.Integer(), server_default="0", nullable=False),
        sa.Column("withheld", sa.Integer(), server_default="0", nullable=False),
        sa.Column("withheld_requests", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "named >= 0 AND withheld >= 0 AND withheld_requests >= 0",
            name=op.f("ck_foreign_duplicate_budgets_counts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_foreign_duplicate_budgets_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("publisher_id", "day", name=op.f("pk_foreign_duplicate_budgets")),
    )


def downgrade() -> None:
    op.drop_table("foreign_duplicate_budgets")
