"""The queue of every publisher, read from PostgreSQL: what GET /metrics
counts (shared.metrics) and what the operator page lists (web.operator);
with it, the codes withheld from publishers that probe for other
publishers' codes (shared.loading.foreign).

Ids, names, sizes, states and times only: no query here reads a code, a
key, a file name or a file's bytes, so neither reader can show one.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from shared import statuses
from shared.loading.foreign import UTC_TODAY
from shared.statuses import RequestStatus

DECIDED = f"status IN {statuses.sql_list(statuses.DECIDED)}"
PENDING = f"status IN {statuses.sql_list(statuses.PENDING)}"
# The operator page's chart: the last hour in twelve bars.
CHART_BUCKET_MINUTES = 5
CHART_BUCKETS = 12
# A long queue is shown by its oldest requests, which are the ones at risk.
MAX_LISTED = 200


@dataclass(frozen=True)
class Decisions:
    """Requests decided recently with one outcome and reason ("" when completed)."""

    outcome: str
    reason_code: str
    last_minute: int
    last_hour: int


@dataclass(frozen=True)
class PendingRequest:
    id: int
    publisher: str
    product: str | None  # None: a CSV file spanning several products
    status: str
    size_bytes: int
    created_at: datetime.datetime
    deadline_at: datetime.datetime
    age_seconds: float
    overdue: bool
    attempts: int
    lease_until: datetime.datetime | None
    claim_backend_pid: int | None


@dataclass(frozen=True)
class ChartBucket:
    """One stretch of CHART_BUCKET_MINUTES, `minutes_ago` from its start to now."""

    minutes_ago: int
    completed: int
    rejected: int


@dataclass(frozen=True)
class WithheldDuplicates:
    """One publisher's codes that exist under another publisher: named to
    it today (UTC), withheld from it today, and withheld over every day."""

    publisher: str
    named_today: int
    withheld_today: int
    withheld: int
    requests: int  # rejections that withheld at least one code, every day


def decisions_last_hour(connection: Connection) -> list[Decisions]:
    rows: Sequence[Any] = connection.execute(
        text(
            "SELECT status, coalesce(reason_code, ''), "
            "count(*) FILTER (WHERE finished_at >= now() - interval '1 minute'), count(*) "
            f"FROM upload_requests WHERE {DECIDED} AND finished_at >= now() - interval '1 hour' "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
    ).all()
    return [Decisions(*row) for row in rows]


def pending_requests(connection: Connection, status: str) -> list[PendingRequest]:
    """The undecided requests in `status` (queued or processing), oldest first."""
    assert status in statuses.PENDING, status
    rows: Sequence[Any] = connection.execute(
        text(
            "SELECT r.id, p.name AS publisher, pr.name AS product, r.status, r.size_bytes, r.created_at, "
            "r.deadline_at, extract(epoch FROM now() - r.created_at) AS age_seconds, r.deadline_at < now() AS overdue, "
            "r.attempts, r.lease_until, r.claim_backend_pid "
            "FROM upload_requests r JOIN publishers p ON p.id = r.publisher_id "
            "LEFT JOIN products pr ON pr.product_id = r.product_id "
            f"WHERE r.status = :status ORDER BY r.created_at, r.id LIMIT {MAX_LISTED}"
        ),
        {"status": status},
    ).all()
    return [
        PendingRequest(
            id=row.id,
            publisher=row.publisher,
            product=row.product,
            status=row.status,
            size_bytes=row.size_bytes,
            created_at=row.created_at,
            deadline_at=row.deadline_at,
            age_seconds=float(row.age_seconds),
            overdue=row.overdue,
            attempts=row.attempts,
            lease_until=row.lease_until,
            claim_backend_pid=row.claim_backend_pid,
        )
        for row in rows
    ]


def decisions_per_bucket(connection: Connection) -> list[ChartBucket]:
    """The last hour's decisions in CHART_BUCKETS stretches, oldest first."""
    seconds = CHART_BUCKET_MINUTES * 60
    rows: Sequence[Any] = connection.execute(
        text(
            f"SELECT least(floor(extract(epoch FROM now() - finished_at) / {seconds})::int, {CHART_BUCKETS - 1}), "
            f"count(*) FILTER (WHERE status = '{RequestStatus.COMPLETED}'), "
            f"count(*) FILTER (WHERE status = '{RequestStatus.REJECTED}') "
            f"FROM upload_requests WHERE {DECIDED} AND finished_at >= now() - interval '1 hour' GROUP BY 1"
        )
    ).all()
    counts = {int(bucket): (int(completed), int(rejected)) for bucket, completed, rejected in rows}
    return [
        ChartBucket((bucket + 1) * CHART_BUCKET_MINUTES, *counts.get(bucket, (0, 0)))
        for bucket in reversed(range(CHART_BUCKETS))
    ]


def withheld_duplicates(connection: Connection) -> list[WithheldDuplicates]:
    """The publishers that had codes withheld, today's first, most first."""
    rows: Sequence[Any] = connection.execute(
        text(
            "SELECT p.name, "
            f"coalesce(sum(b.named) FILTER (WHERE b.day = {UTC_TODAY}), 0), "
            f"coalesce(sum(b.withheld) FILTER (WHERE b.day = {UTC_TODAY}), 0), "
            "sum(b.withheld), sum(b.withheld_requests) "
            "FROM foreign_duplicate_budgets b JOIN publishers p ON p.id = b.publisher_id "
            f"GROUP BY p.name HAVING sum(b.withheld) > 0 ORDER BY 3 DESC, 4 DESC, 1 LIMIT {MAX_LISTED}"
        )
    ).all()
    return [WithheldDuplicates(*(row[0], *(int(count) for count in row[1:]))) for row in rows]


def withheld_totals(connection: Connection) -> tuple[int, int]:
    """Codes withheld and rejections that withheld some, over every publisher and day."""
    row: Any = connection.execute(
        text("SELECT coalesce(sum(withheld), 0), coalesce(sum(withheld_requests), 0) FROM foreign_duplicate_budgets")
    ).one()
    return int(row[0]), int(row[1])
