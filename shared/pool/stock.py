"""What a product holds and how fast it goes, per code type, read from the
maintained counts and the hand-outs by day: a stock read counts no rows
of codes (docs/product.md#the-code-pool)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.models import CODE_STATUSES, CODE_TYPES, Allocation, CodeCount, HandOutDay, Product
from shared.statuses import AllocationStatus, CodeStatus

RATE_DAYS = 7
CHART_DAYS = 30


@dataclass(frozen=True)
class TypeStock:
    by_status: dict[str, int]
    backordered: int  # codes the waiting backorders ask for
    backorders: int  # the waiting backorders
    handed_out_last_7_days: int
    low_stock_threshold: int

    @property
    def available(self) -> int:
        return self.by_status[CodeStatus.AVAILABLE]

    @property
    def days_left(self) -> float | None:
        """At the last 7 days' daily rate; None without hand-outs."""
        if not self.handed_out_last_7_days:
            return None
        return round(self.available / (self.handed_out_last_7_days / RATE_DAYS), 1)

    @property
    def total(self) -> int:
        """Every code of the type, whatever its status."""
        return sum(self.by_status.values())

    @property
    def low(self) -> bool:
        return self.available < self.low_stock_threshold

    @property
    def held(self) -> bool:
        """The product has or had codes of this type, or backorders wait
        for some: the screens mark a type low only then, not a type the
        publisher never uses."""
        return bool(self.backorders or any(self.by_status.values()))


def _today(session: Session) -> datetime.date:
    return session.execute(text("SELECT CAST(now() AT TIME ZONE 'UTC' AS date)")).scalar_one()


def stock_of(session: Session, product: Product) -> dict[str, TypeStock]:
    """Each code type's stock (every type, zero when it has none)."""
    return stocks_of_products(session, [product])[product.product_id]


def stocks_of_products(session: Session, products: Sequence[Product]) -> dict[int, dict[str, TypeStock]]:
    """The stock of each product, by product id, in the same few grouped
    queries whatever the number of products (the products page lists them all)."""
    ids = [product.product_id for product in products]
    by_status = {i: {t: dict.fromkeys(CODE_STATUSES, 0) for t in CODE_TYPES} for i in ids}
    for product_id, code_type, status, codes in session.execute(
        select(CodeCount.product_id, CodeCount.code_type, CodeCount.status, CodeCount.codes).where(
            CodeCount.product_id.in_(ids)
        )
    ):
        by_status[product_id][code_type][status] = int(codes)
    waiting = {
        (product_id, code_type): (int(codes), int(n))
        for product_id, code_type, codes, n in session.execute(
            select(Allocation.product_id, Allocation.code_type, func.sum(Allocation.quantity), func.count())
            .where(Allocation.product_id.in_(ids), Allocation.status == AllocationStatus.BACKORDERED)
            .group_by(Allocation.product_id, Allocation.code_type)
        )
    }
    since = _today(session) - datetime.timedelta(days=RATE_DAYS - 1)
    handed = {
        (product_id, code_type): int(codes)
        for product_id, code_type, codes in session.execute(
            select(HandOutDay.product_id, HandOutDay.code_type, func.sum(HandOutDay.codes))
            .where(HandOutDay.product_id.in_(ids), HandOutDay.day >= since)
            .group_by(HandOutDay.product_id, HandOutDay.code_type)
        )
    }
    return {
        product.product_id: {
            code_type: TypeStock(
                by_status=by_status[product.product_id][code_type],
                backordered=waiting.get((product.product_id, code_type), (0, 0))[0],
                backorders=waiting.get((product.product_id, code_type), (0, 0))[1],
                handed_out_last_7_days=handed.get((product.product_id, code_type), 0),
                low_stock_threshold=product.low_stock_threshold,
            )
            for code_type in CODE_TYPES
        }
        for product in products
    }


def hand_outs_by_day(session: Session, product: Product, days: int = CHART_DAYS) -> list[tuple[datetime.date, int]]:
    """Codes distributed on each of the last `days` UTC days, oldest first,
    zero on days without any (the Stock tab's chart)."""
    today = _today(session)
    first = today - datetime.timedelta(days=days - 1)
    counted = dict(
        session.execute(
            select(HandOutDay.day, func.sum(HandOutDay.codes))
            .where(HandOutDay.product_id == product.product_id, HandOutDay.day >= first)
            .group_by(HandOutDay.day)
        ).all()
    )
    return [(day, int(counted.get(day) or 0)) for day in (first + datetime.timedelta(days=n) for n in range(days))]
