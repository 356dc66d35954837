"""The pool's moments (a stock falling low, a backorder filled, a
reservation expired), written in the transaction that made them, so that
one is recorded exactly when its change commits and never otherwise.

Each is also the source of a webhook event, written beside it in the same
transaction (shared.events.outbox): `pool_events` stays the pool's own
record of its moments, kept whether or not anyone listens, while the
outbox holds only what some endpoint wants, with its deliveries
(docs/architecture.md#webhooks-the-outbox-and-delivery). A stock.low
event is the row's own data, written by a trigger on pool_events
(migration 0023), since the take writes its row in SQL; the allocation's
events carry the allocation as the API shows it, written here."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.events import outbox
from shared.models import Allocation
from shared.shapes import allocation_json
from shared.statuses import EventType, PoolEventKind

_RECORD = text(
    "INSERT INTO pool_events (kind, product_id, code_type, allocation_id, data) "
    "VALUES (:kind, :product_id, :code_type, :allocation_id, CAST(:data AS jsonb))"
)


def record(
    session: Session,
    kind: PoolEventKind,
    product_id: int,
    code_type: str,
    data: dict[str, Any],
    allocation_id: int | None = None,
) -> None:
    session.execute(
        _RECORD,
        {
            "kind": kind.value,
            "product_id": product_id,
            "code_type": code_type,
            "allocation_id": allocation_id,
            "data": json.dumps(data),
        },
    )
    if allocation_id is not None:
        _tell_webhooks(session, EventType(kind.value), product_id, allocation_id)


def _tell_webhooks(session: Session, event: EventType, product_id: int, allocation_id: int) -> None:
    """The allocation as the API shows it, its codes included, when an endpoint wants the event."""
    publisher_id = outbox.subscriber_of_product(session, product_id, event)
    if publisher_id is None:
        return
    # Imported here: shared.pool.allocations records through this module (by way of its counts).
    from shared.pool.allocations import codes_given

    allocation = session.get_one(Allocation, allocation_id, populate_existing=True)
    outbox.publish(
        session, publisher_id, event, allocation_json(allocation, codes_given(session, [allocation])[allocation_id])
    )
