"""Upload storage: the bytes of each uploaded file, in chunks, in PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_blobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_blobs")),
    )
    op.create_table(
        "upload_chunks",
        sa.Column("blob_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["upload_blobs.id"], name=op.f("fk_upload_chunks_blob_id_upload_blobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("blob_id", "seq", name=op.f("pk_upload_chunks")),
    )
    # Uploads are mostly compressed data or random codes: pglz would spend
    # CPU on every chunk for little gain.
    op.execute("ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.add_column("upload_requests", sa.Column("blob_id", sa.BigInteger(), nullable=True))
    op.add_column("upload_requests", sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_upload_requests_blob_id"), "upload_requests", ["blob_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_upload_requests_blob_id_upload_blobs"),
        "upload_requests",
        "upload_blobs",
        ["blob_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_upload_requests_blob_id_upload_blobs"), "upload_requests", type_="foreignkey")
    op.drop_index(op.f("ix_upload_requests_blob_id"), table_name="upload_requests")
    op.drop_column("upload_requests", "enqueued_at")
    op.drop_column("upload_requests", "blob_id")
    op.drop_table("upload_chunks")
    op.drop_table("upload_blobs")
