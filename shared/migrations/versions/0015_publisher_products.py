"""Products managed by their publisher (docs/product.md#products): each
product's low-stock threshold, and the rules each upload request is checked
by, kept with it so that a product changed while the request waits does not
change how it is checked (shared.product_rules).

The requests still pending (queued or processing) get their products'
rules as they are now, the rules they would have been checked by; a
request decided already is never checked again (confirming a dry run makes
a new request).

Revision ID: 0015_publisher_products
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_publisher_products"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEEP_RULES = """
UPDATE upload_requests r
SET product_rules = COALESCE((
    SELECT jsonb_agg(jsonb_build_object(
               'product_id', p.product_id,
               'short_code', p.short_code,
               'prefix', p.prefix,
               'activation_expiry_days', p.activation_expiry_days,
               'evaluation_expiry_days', p.evaluation_expiry_days) ORDER BY p.product_id)
    FROM products p
    WHERE p.publisher_id = r.publisher_id AND (r.product_id IS NULL OR p.product_id = r.product_id)
), '[]'::jsonb)
WHERE r.status IN ('queued', 'processing')
"""


def upgrade() -> None:
    op.add_column("products", sa.Column("low_stock_threshold", sa.Integer(), server_default="100", nullable=False))
    op.create_check_constraint(
        op.f("ck_products_low_stock_threshold_not_negative"), "products", "low_stock_threshold >= 0"
    )
    op.add_column("upload_requests", sa.Column("product_rules", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute(_KEEP_RULES)


def downgrade() -> None:
    op.drop_column("upload_requests", "product_rules")
    op.drop_constraint(op.f("ck_products_low_stock_threshold_not_negative"), "products", type_="check")
    op.drop_column("products", "low_stock_threshold")
