"""Generation requests (docs/product.md#generation-requests): a request's
kind, `upload` (every request made before) or `generation`, and a
generation's parameters. A generation has no file, so its format and its
SHA-256 are NULL, which the CHECK constraints now allow for it alone.

Revision ID: 0022_generation_requests
Revises: 0021_routine_maintenance
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022_generation_requests"
down_revision: str | None = "0021_routine_maintenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KIND_FIELDS = (
    "CASE WHEN kind = 'generation' "
    "THEN generation IS NOT NULL AND format IS NULL AND sha256 IS NULL AND blob_id IS NULL "
    "ELSE generation IS NULL AND format IS NOT NULL AND sha256 IS NOT NULL END"
)


def upgrade() -> None:
    op.add_column("upload_requests", sa.Column("kind", sa.String(16), server_default="upload", nullable=False))
    op.add_column("upload_requests", sa.Column("generation", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.alter_column("upload_requests", "format", existing_type=sa.String(8), nullable=True)
    op.alter_column("upload_requests", "sha256", existing_type=sa.String(64), nullable=True)
    _replace_check("format_known", "format IS NULL OR format IN ('txt', 'csv')")
    _replace_check("sha256_hex", "sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'")
    op.create_check_constraint(
        op.f("ck_upload_requests_kind_known"), "upload_requests", "kind IN ('upload', 'generation')"
    )
    op.create_check_constraint(op.f("ck_upload_requests_kind_fields"), "upload_requests", _KIND_FIELDS)


def downgrade() -> None:
    op.execute("DELETE FROM upload_requests WHERE kind = 'generation'")
    op.drop_constraint(op.f("ck_upload_requests_kind_fields"), "upload_requests", type_="check")
    op.drop_constraint(op.f("ck_upload_requests_kind_known"), "upload_requests", type_="check")
    _replace_check("sha256_hex", "sha256 ~ '^[0-9a-f]{64}$'")
    _replace_check("format_known", "format IN ('txt', 'csv')")
    op.alter_column("upload_requests", "sha256", existing_type=sa.String(64), nullable=False)
    op.alter_column("upload_requests", "format", existing_type=sa.String(8), nullable=False)
    op.drop_column("upload_requests", "generation")
    op.drop_column("upload_requests", "kind")


def _replace_check(name: str, condition: str) -> None:
    op.drop_constraint(op.f(f"ck_upload_requests_{name}"), "upload_requests", type_="check")
    op.create_check_constraint(op.f(f"ck_upload_requests_{name}"), "upload_requests", condition)
