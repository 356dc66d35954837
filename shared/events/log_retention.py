"""The delivery log is kept for WEBHOOK_LOG_RETENTION_DAYS, then deleted
(docs/operating.md#routine-maintenance): a delivery that finished
(succeeded or failed) before the cut-off goes with its attempts (their
foreign key cascades), and a message goes once none of its deliveries is
left. A pending delivery is never deleted, however old: it is still being
sent, and its message with it.

Each batch is one short transaction. Its deliveries are chosen oldest
first and locked with SKIP LOCKED, so two beats never work on one row, and
a replay or a claim of a row being deleted waits for this transaction and
then finds it gone. Messages left with no delivery by an endpoint's
deletion (its deliveries cascade) go in a second pass, once old enough."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from sqlalchemy import Engine, text

from shared.statuses import DeliveryStatus

BATCH = 200
MAX_BATCHES = 50  # a run's most; the next run goes on

_FINISHED = f"('{DeliveryStatus.SUCCEEDED.value}', '{DeliveryStatus.FAILED.value}')"
# Oldest first by id, which the primary key's index walks: the old rows are met first.
_DELETE_DELIVERIES = text(f"""
WITH doomed AS (
    SELECT id FROM webhook_deliveries
    WHERE status IN {_FINISHED} AND finished_at < :cutoff
    ORDER BY id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
DELETE FROM webhook_deliveries d USING doomed WHERE d.id = doomed.id
RETURNING d.message_id
""")
_DELETE_EMPTIED_MESSAGES = text("""
DELETE FROM webhook_messages m
WHERE m.id = ANY(:ids) AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id)
""")
# An outbox message is written with its deliveries in one statement, so an
# old one with none has lost them all since.
_DELETE_ORPHANED_MESSAGES = text("""
DELETE FROM webhook_messages WHERE id IN (
    SELECT m.id FROM webhook_messages m
    WHERE m.created_at < :cutoff AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id)
    ORDER BY m.id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
""")


@dataclasses.dataclass(frozen=True)
class Forgotten:
    deliveries: int  # with their attempts
    messages: int


def forget_old_deliveries(engine: Engine, retention_days: int, batch: int = BATCH) -> Forgotten:
    """Delete the deliveries that finished more than `retention_days` ago
    (none when 0), with their attempts, and the messages they leave empty."""
    if retention_days == 0:
        return Forgotten(0, 0)
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=retention_days)
    deliveries = messages = 0
    for _ in range(MAX_BATCHES):
        with engine.begin() as connection:
            of_messages: list[int] = list(
                connection.execute(_DELETE_DELIVERIES, {"cutoff": cutoff, "batch": batch}).scalars()
            )
            if not of_messages:
                break
            deliveries += len(of_messages)
            messages += _deleted(connection.execute(_DELETE_EMPTIED_MESSAGES, {"ids": sorted(set(of_messages))}))
    for _ in range(MAX_BATCHES):
        with engine.begin() as connection:
            orphans = _deleted(connection.execute(_DELETE_ORPHANED_MESSAGES, {"cutoff": cutoff, "batch": batch}))
        messages += orphans
        if orphans < batch:
            break
    return Forgotten(deliveries, messages)


def _deleted(result: Any) -> int:
    return int(result.rowcount)
