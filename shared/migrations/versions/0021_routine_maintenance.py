"""Routine maintenance (docs/operating.md#routine-maintenance): a record of
the backups taken, and autovacuum of the codes table by a share of its rows
fit for tens of millions of them.

Each code taken from the pool leaves a dead row version, and its entry at
the head of the pool's index, until a vacuum clears them; PostgreSQL's
default waits for a fifth of the table (4 million rows at 20 million codes),
while the next takes step over every dead entry. A fiftieth (400,000 at 20
million) keeps the head short, and the planner's statistics follow the
table as closely.

Revision ID: 0021_routine_maintenance
Revises: 0020_upload_retention
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_routine_maintenance"
down_revision: str | None = "0020_upload_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES_AUTOVACUUM = "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02"


def upgrade() -> None:
    op.create_table(
        "backups_taken",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("schema_revision", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("codes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backups_taken")),
    )
    op.execute(f"ALTER TABLE license_codes SET ({CODES_AUTOVACUUM})")


def downgrade() -> None:
    op.execute("ALTER TABLE license_codes RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)")
    op.drop_table("backups_taken")
