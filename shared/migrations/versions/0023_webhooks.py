"""Webhooks: the publishers' endpoints, the outbox of events with a delivery
per endpoint, and every attempt of a delivery
(docs/architecture.md#webhooks-the-outbox-and-delivery).

A trigger on pool_events writes the stock.low event of each stock.low row,
in the transaction that wrote the row: the take writes that row in its one
statement (shared.pool.take_statement), and the event's data is the row's.

Revision ID: 0023_webhooks
Revises: 0022_generation_requests
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_webhooks"
down_revision: str | None = "0022_generation_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES = (
    "type IN ('upload.completed', 'upload.rejected', 'stock.low', 'backorder.filled', "
    "'reservation.expired', 'webhook.test')"
)


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


# The steps of shared.events.outbox.steps, as they were when this was written.
_STOCK_LOW_EVENT = """
CREATE FUNCTION webhook_stock_low() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH publisher AS (
        SELECT publisher_id FROM products WHERE product_id = NEW.product_id
    ), outbox_endpoints AS (
        SELECT id FROM webhook_endpoints
        WHERE publisher_id = (SELECT publisher_id FROM publisher) AND enabled AND events ? 'stock.low'
    ), outbox_message AS (
        INSERT INTO webhook_messages (message_id, publisher_id, type, data)
        SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), publisher_id, 'stock.low', NEW.data
        FROM publisher WHERE EXISTS (SELECT 1 FROM outbox_endpoints)
        RETURNING id
    )
    INSERT INTO webhook_deliveries (message_id, endpoint_id)
    SELECT outbox_message.id, outbox_endpoints.id FROM outbox_message, outbox_endpoints;
    RETURN NULL;
END $$;
CREATE TRIGGER pool_events_stock_low_webhook AFTER INSERT ON pool_events
FOR EACH ROW WHEN (NEW.kind = 'stock.low') EXECUTE FUNCTION webhook_stock_low();
"""


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "jsonb_typeof(events) = 'array' AND jsonb_array_length(events) > 0",
            name=op.f("ck_webhook_endpoints_events_listed"),
        ),
        sa.CheckConstraint(
            "NOT enabled OR disabled_reason IS NULL", name=op.f("ck_webhook_endpoints_reason_only_when_disabled")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_webhook_endpoints_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(op.f("ix_webhook_endpoints_publisher_id"), "webhook_endpoints", ["publisher_id"], unique=False)
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _created_at(),
        sa.CheckConstraint(_EVENT_TYPES, name=op.f("ck_webhook_messages_type_known")),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name=op.f("fk_webhook_messages_publisher_id_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_webhook_messages_message_id")),
    )
    op.create_index(op.f("ix_webhook_messages_publisher_id"), "webhook_messages", ["publisher_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("claim_token", sa.UUID(), nullable=True),
        _created_at("retrying_since"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_webhook_deliveries_status_known")
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (next_attempt_at IS NOT NULL)",
            name=op.f("ck_webhook_deliveries_pending_has_next_attempt"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["webhook_messages.id"],
            name=op.f("fk_webhook_deliveries_message_id_webhook_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("endpoint_id", "message_id", name="uq_webhook_deliveries_endpoint_message"),
    )
    op.create_index(op.f("ix_webhook_deliveries_message_id"), "webhook_deliveries", ["message_id"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_endpoint_created",
        "webhook_deliveries",
        ["endpoint_id", sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        _created_at("attempted_at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), server_default="", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"], unique=False)
    op.execute(_STOCK_LOW_EVENT)


def downgrade() -> None:
    op.execute("DROP TRIGGER pool_events_stock_low_webhook ON pool_events")
    op.execute("DROP FUNCTION webhook_stock_low()")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_messages")
    op.drop_table("webhook_endpoints")
