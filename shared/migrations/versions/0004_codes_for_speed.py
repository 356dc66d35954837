"""License codes stored at COPY speed: no row-by-row foreign key checks, and
an index on request_id instead of (request_id, line_no) (see the model).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_license_codes_request_line"), table_name="license_codes")
    op.create_index("ix_license_codes_request_id", "license_codes", ["request_id"], unique=False)
    op.drop_constraint(op.f("fk_license_codes_request_id_upload_requests"), "license_codes", type_="foreignkey")
    op.drop_constraint(op.f("fk_license_codes_product_id_products"), "license_codes", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key(
        op.f("fk_license_codes_product_id_products"),
        "license_codes",
        "products",
        ["product_id"],
        ["product_id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_license_codes_request_id_upload_requests"),
        "license_codes",
        "upload_requests",
        ["request_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_index("ix_license_codes_request_id", table_name="license_codes")
    op.create_index(op.f("ix_license_codes_request_line"), "license_codes", ["request_id", "line_no"], unique=True)
