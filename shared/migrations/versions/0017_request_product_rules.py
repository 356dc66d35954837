"""The rules each upload request is checked by, kept with it: the prefix and
expiry defaults of the products it may name, as they were when it was made,
so that a product its publisher changes while the request waits does not
change how the request is checked (docs/product.md#products,
shared.product_rules).

The requests still pending (queued or processing) get their products'
rules as they are now, the rules they would have been checked by; a
request decided already is never checked again (confirming a dry run makes
a new request).

Revision ID: 0017_request_product_rules
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_request_product_rules"
down_revision: str | None = "0016"
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
    op.add_column("upload_requests", sa.Column("product_rules", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute(_KEEP_RULES)


def downgrade() -> None:
    op.drop_column("upload_requests", "product_rules")
