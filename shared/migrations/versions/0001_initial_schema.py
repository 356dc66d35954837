"""The initial schema: publishers, users, API keys, products, upload requests
and license codes (docs/product.md#concepts).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publishers",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_publishers_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publishers")),
        sa.UniqueConstraint("name", name=op.f("uq_publishers_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["publishers.id"], name=op.f("fk_api_keys_publisher_id_publishers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_publisher_id"), "api_keys", ["publisher_id"], unique=False)
    op.create_table(
        "products",
        sa.Column("product_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("short_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=128), nullable=True),
        sa.Column("activation_expiry_days", sa.Integer(), nullable=False),
        sa.Column("evaluation_expiry_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("short_code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$'", name=op.f("ck_products_short_code_shape")),
        sa.CheckConstraint("activation_expiry_days >= 1", name=op.f("ck_products_activation_expiry_positive")),
        sa.CheckConstraint("evaluation_expiry_days BETWEEN 1 AND 60", name=op.f("ck_products_evaluation_expiry_range")),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_products_name_not_blank")),
        sa.CheckConstraint("prefix IS NULL OR length(prefix) > 0", name=op.f("ck_products_prefix_not_empty")),
        sa.CheckConstraint("product_id > 0", name=op.f("ck_products_product_id_positive")),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["publishers.id"], name=op.f("fk_products_publisher_id_publishers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_products")),
        sa.UniqueConstraint("short_code", name=op.f("uq_products_short_code")),
    )
    op.create_index(op.f("ix_products_publisher_id"), "products", ["publisher_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "email = lower(email) AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'", name=op.f("ck_users_email_normalised")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["publishers.id"], name=op.f("fk_users_publisher_id_publishers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_publisher_id"), "users", ["publisher_id"], unique=False)
    op.create_table(
        "upload_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("code_type", sa.String(length=16), server_default="activation", nullable=False),
        sa.Column("filename", sa.String(length=255), server_default="", nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("confirmed_from_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "errors", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("error_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("code_count", sa.BigInteger(), nullable=True),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.UUID(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "(status = 'processing') = (claim_token IS NOT NULL)", name=op.f("ck_upload_requests_processing_has_claim")
        ),
        sa.CheckConstraint(
            "(status = 'rejected') = (reason_code IS NOT NULL)", name=op.f("ck_upload_requests_rejected_has_reason")
        ),
        sa.CheckConstraint(
            "code_type IN ('activation', 'evaluation')", name=op.f("ck_upload_requests_code_type_known")
        ),
        sa.CheckConstraint("format IN ('txt', 'csv')", name=op.f("ck_upload_requests_format_known")),
        sa.CheckConstraint(
            "reason_code IS NULL OR reason_code IN ('empty_file', 'encoding', 'line_ending', 'blank_line', 'format', 'product_mismatch', 'prefix_missing', 'expiry_out_of_range', 'duplicate_in_file', 'duplicate_existing', 'too_many_codes', 'processing_failed')",
            name=op.f("ck_upload_requests_reason_code_known"),
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_upload_requests_sha256_hex")),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'completed', 'rejected', 'deleted')",
            name=op.f("ck_upload_requests_status_known"),
        ),
        sa.CheckConstraint("error_count >= 0 AND attempts >= 0", name=op.f("ck_upload_requests_counts_not_negative")),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_upload_requests_size_positive")),
        sa.ForeignKeyConstraint(
            ["confirmed_from_id"],
            ["upload_requests.id"],
            name=op.f("fk_upload_requests_confirmed_from_id_upload_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
            name=op.f("fk_upload_requests_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_upload_requests_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_requests")),
        sa.UniqueConstraint("confirmed_from_id", name=op.f("uq_upload_requests_confirmed_from_id")),
    )
    op.create_index(
        "ix_upload_requests_pending",
        "upload_requests",
        ["status", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'processing')"),
    )
    op.create_index(op.f("ix_upload_requests_product_id"), "upload_requests", ["product_id"], unique=False)
    op.create_index(
        "ix_upload_requests_publisher_id_created",
        "upload_requests",
        ["publisher_id", sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "license_codes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=128, collation="C"), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("code_type", sa.String(length=16), nullable=False),
        sa.Column("expiry_days", sa.Integer(), nullable=False),
        sa.Column("build_no", sa.Integer(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="available", nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code_type IN ('activation', 'evaluation')", name=op.f("ck_license_codes_code_type_known")),
        sa.CheckConstraint(
            "expiry_days >= 1 AND (code_type = 'activation' OR expiry_days <= 60)",
            name=op.f("ck_license_codes_expiry_range"),
        ),
        sa.CheckConstraint(
            "status IN ('available', 'reserved', 'distributed')", name=op.f("ck_license_codes_status_known")
        ),
        sa.CheckConstraint("build_no IS NULL OR build_no >= 0", name=op.f("ck_license_codes_build_no_not_negative")),
        sa.CheckConstraint("length(code) BETWEEN 1 AND 128", name=op.f("ck_license_codes_code_length")),
        sa.CheckConstraint("line_no >= 1", name=op.f("ck_license_codes_line_no_positive")),
        sa.CheckConstraint("seats IS NULL OR seats >= 1", name=op.f("ck_license_codes_seats_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
            name=op.f("fk_license_codes_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["upload_requests.id"],
            name=op.f("fk_license_codes_request_id_upload_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_license_codes_code")),
    )
    op.create_index("ix_license_codes_request_line", "license_codes", ["request_id", "line_no"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_license_codes_request_line", table_name="license_codes")
    op.drop_table("license_codes")
    op.drop_index("ix_upload_requests_publisher_id_created", table_name="upload_requests")
    op.drop_index(op.f("ix_upload_requests_product_id"), table_name="upload_requests")
    op.drop_index(
        "ix_upload_requests_pending",
        table_name="upload_requests",
        postgresql_where=sa.text("status IN ('queued', 'processing')"),
    )
    op.drop_table("upload_requests")
    op.drop_index(op.f("ix_users_publisher_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_products_publisher_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_api_keys_publisher_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("publishers")
