"""What a product holds and how fast it goes, per code type, read from the
maintained counts and the hand-outs by day: a stock read counts no rows
of codes (docs/product.md#the-code-pool)."""

from __future__ import annotations

import datetime
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
    def low(self) -> bool:
        return self.available < self.low_stock_threshold


def _today(session: Session) -> datetime.date:
    return session.execute(text("SELECT CAST(now() AT TIME ZONE 'UTC' AS date)")).scalar_one()


def stock_of(session: Session, product: Product) -> dict[str, TypeStock]:
    """Each code type's stock (every type, zero when it has none)."""
    by_status = {code_type: dict.fromkeys(CODE_STATUSES, 0) for code_type in CODE_TYPES}
    for code_type, status, codes in session.execute(
        select(CodeCount.code_type, CodeCount.status, CodeCount.codes).where(CodeCount.product_id == product.product_id)
    ):
        by_status[code_type][status] = int(codes)
    waiting = {
        code_type: (int(codes), int(n))
        for code_type, codes, n in session.execute(
            select(Allocation.code_type, func.sum(Allocation.quantity), func.count())
            .where(Allocation.product_id == product.product_id, Allocation.status == AllocationStatus.BACKORDERED)
            .group_by(Allocation.code_type)
        )
    }
    since = _today(session) - datetime.timedelta(days=RATE_DAYS - 1)
    handed = dict(
        session.execute(
            select(HandOutDay.code_type, func.sum(HandOutDay.codes))
            .where(HandOutDay.product_id == product.product_id, HandOutDay.day >= since)
            .group_by(HandOutDay.code_type)
        ).all()
    )
    return {
        code_type: TypeStock(
            by_status=by_status[code_type],
            backordered=waiting.get(code_type, (0, 0))[0],
            backorders=waiting.get(code_type, (0, 0))[1],
            handed_out_last_7_days=int(handed.get(code_type) or 0),
            low_stock_threshold=product.low_stock_threshold,
        )
        for code_type in CODE_TYPES
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
