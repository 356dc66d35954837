"""Products managed by their publisher: a low-stock threshold per product
(docs/product.md#the-code-pool).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("products", sa.Column("low_stock_threshold", sa.Integer(), server_default="100", nullable=False))
    op.create_check_constraint(
        op.f("ck_products_low_stock_threshold_not_negative"), "products", "low_stock_threshold >= 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_products_low_stock_threshold_not_negative"), "products", type_="check")
    op.drop_column("products", "low_stock_threshold")
