"""How many codes each product holds, by code type and status, read from
the counts kept with the codes (docs/architecture.md#maintained-counts):
the Code Generator adds to them in the transaction that stores codes
(shared.loading.staging.ADD_COUNTS), and every move of a code between
statuses moves its count in the same transaction. Nothing here counts rows
of the codes table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from shared.models import CODE_STATUSES, CodeCount

# An ORM session or a plain connection (/metrics reads with one).
Database = Session | Connection


@dataclass(frozen=True)
class ProductCounts:
    """One product's codes by status (every status, zero when none)."""

    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CODE_STATUSES, 0))

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def codes_counted(
    session: Database, product_id: int, status: str | None = None, *, code_type: str | None = None
) -> int:
    """The product's codes, of `code_type` or every type, in `status` or in any."""
    query = select(func.coalesce(func.sum(CodeCount.codes), 0)).where(CodeCount.product_id == product_id)
    if status is not None:
        query = query.where(CodeCount.status == status)
    if code_type is not None:
        query = query.where(CodeCount.code_type == code_type)
    return int(session.scalar(query) or 0)


def counts_of_products(session: Database, product_ids: Iterable[int]) -> dict[int, ProductCounts]:
    """Each product's codes by status, for a list of products (the products page)."""
    ids = list(product_ids)
    counts = {product_id: ProductCounts() for product_id in ids}
    if ids:
        rows = session.execute(
            select(CodeCount.product_id, CodeCount.status, func.sum(CodeCount.codes))
            .where(CodeCount.product_id.in_(ids))
            .group_by(CodeCount.product_id, CodeCount.status)
        )
        for product_id, status, codes in rows:
            counts[product_id].by_status[status] = int(codes)
    return counts


def totals_by_status(session: Database) -> dict[str, int]:
    """Every code on the server by status (/metrics, the operator page)."""
    totals = dict.fromkeys(CODE_STATUSES, 0)
    rows = session.execute(select(CodeCount.status, func.sum(CodeCount.codes)).group_by(CodeCount.status))
    totals.update((status, int(codes)) for status, codes in rows)
    return totals
