"""The code pool: allocations and their codes, the codes' holder, the
revoked status, hand-outs by day and the pool's recorded moments
(docs/architecture.md#the-code-pool).

The pool's index is built from the codes already stored: minutes on tens
of millions of codes, while uploads wait (docs/operating.md#upgrading).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES_BEFORE = "status IN ('available', 'reserved', 'distributed')"
_STATUSES = "status IN ('available', 'reserved', 'distributed', 'revoked')"
_CODE_TYPES = "code_type IN ('activation', 'evaluation')"


def upgrade() -> None:
    for table in ("license_codes", "code_counts"):
        op.drop_constraint(op.f(f"ck_{table}_status_known"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_status_known"), table, _STATUSES)
    op.add_column("license_codes", sa.Column("allocation_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_license_codes_pool",
        "license_codes",
        ["product_id", "code_type", "request_id", "line_no"],
        unique=False,
        postgresql_where=sa.text("status = 'available'"),
    )
    op.create_index(
        "ix_license_codes_allocation_id",
        "license_codes",
        ["allocation_id"],
        unique=False,
        postgresql_where=sa.text("allocation_id IS NOT NULL"),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("code_type", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reservation_minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("distributed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_CODE_TYPES, name=op.f("ck_allocations_code_type_known")),
        sa.CheckConstraint("mode IN ('distribute', 'reserve')", name=op.f("ck_allocations_mode_known")),
        sa.CheckConstraint(
            "status IN ('reserved', 'distributed', 'released', 'expired', 'revoked', 'backordered')",
            name=op.f("ck_allocations_status_known"),
        ),
        sa.CheckConstraint("quantity BETWEEN 1 AND 1000", name=op.f("ck_allocations_quantity_range")),
        sa.CheckConstraint(
            "reservation_minutes IS NULL OR reservation_minutes BETWEEN 1 AND 10080",
            name=op.f("ck_allocations_reservation_minutes_range"),
        ),
        sa.CheckConstraint(
            "status <> 'reserved' OR expires_at IS NOT NULL", name=op.f("ck_allocations_reserved_expires")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
            name=op.f("fk_allocations_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint("product_id", "reference", name="uq_allocations_product_reference"),
    )
    op.create_index("ix_allocations_product_created", "allocations", ["product_id", sa.text("id DESC")])
    op.create_index(
        "ix_allocations_product_status_created", "allocations", ["product_id", "status", sa.text("id DESC")]
    )
    op.create_index(
        "ix_allocations_reserved_expires",
        "allocations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'reserved'"),
    )
    op.create_index(
        "ix_allocations_backorders",
        "allocations",
        ["product_id", "code_type", "id"],
        postgresql_where=sa.text("status = 'backordered'"),
    )
    op.create_table(
        "allocation_codes",
        sa.Column("allocation_id", sa.BigInteger(), nullable=False),
        sa.Column("code_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_allocation_codes_allocation_id_allocations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("allocation_id", "code_id", name=op.f("pk_allocation_codes")),
    )
    op.create_table(
        "hand_out_days",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("code_type", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("codes", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(_CODE_TYPES, name=op.f("ck_hand_out_days_code_type_known")),
        sa.CheckConstraint("codes >= 0", name=op.f("ck_hand_out_days_codes_not_negative")),
        sa.PrimaryKeyConstraint("product_id", "code_type", "day", name=op.f("pk_hand_out_days")),
    )
    op.create_table(
        "pool_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("code_type", sa.String(length=16), nullable=False),
        sa.Column("allocation_id", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('stock.low', 'backorder.filled', 'reservation.expired')", name=op.f("ck_pool_events_kind_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_events")),
    )
    op.create_index("ix_pool_events_product_created", "pool_events", ["product_id", sa.text("id DESC")])


def downgrade() -> None:
    op.drop_index("ix_pool_events_product_created", table_name="pool_events")
    op.drop_table("pool_events")
    op.drop_table("hand_out_days")
    op.drop_table("allocation_codes")
    for index in ("backorders", "reserved_expires", "product_status_created", "product_created"):
        op.drop_index(f"ix_allocations_{index}", table_name="allocations")
    op.drop_table("allocations")
    op.drop_index("ix_license_codes_allocation_id", table_name="license_codes")
    op.drop_index("ix_license_codes_pool", table_name="license_codes")
    op.drop_column("license_codes", "allocation_id")
    # Before the pool there was no revoked status: a revoked code was handed out for good.
    op.execute(
        "INSERT INTO code_counts (product_id, code_type, status, codes) "
        "SELECT product_id, code_type, 'distributed', codes FROM code_counts WHERE status = 'revoked' "
        "ON CONFLICT (product_id, code_type, status) DO UPDATE SET codes = code_counts.codes + EXCLUDED.codes"
    )
    op.execute("DELETE FROM code_counts WHERE status = 'revoked'")
    op.execute("UPDATE license_codes SET status = 'distributed' WHERE status = 'revoked'")
    for table in ("license_codes", "code_counts"):
        op.drop_constraint(op.f(f"ck_{table}_status_known"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_status_known"), table, _STATUSES_BEFORE)
