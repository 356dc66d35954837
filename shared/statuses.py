"""The vocabulary of states: every status a request or a code can have, and
the named sets that the rules speak of. Python, SQL and templates all use
these names, so one search (`RequestStatus.`, `PENDING`, `DELETABLE` …)
finds every rule that depends on a status.

The moves between request statuses are in shared.states
(docs/architecture.md#request-states); this module depends on nothing, so
that the models' CHECK constraints can be written from it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class RequestStatus(StrEnum):
    """An upload request's status (docs/product.md#concepts)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    DELETED = "deleted"

    @property
    def label(self) -> str:
        """As the screens print it: "Queued"."""
        return self.value.capitalize()


class CodeStatus(StrEnum):
    """A license code's status (docs/product.md#concepts)."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    DISTRIBUTED = "distributed"
    # Never handed out again: a revoked allocation's, or a leaked batch's.
    REVOKED = "revoked"


class AllocationMode(StrEnum):
    """What a take does with the codes (docs/product.md#the-code-pool)."""

    DISTRIBUTE = "distribute"
    RESERVE = "reserve"


class AllocationStatus(StrEnum):
    """An allocation's status (docs/product.md#the-code-pool)."""

    RESERVED = "reserved"
    DISTRIBUTED = "distributed"
    RELEASED = "released"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BACKORDERED = "backordered"


class PoolEventKind(StrEnum):
    """A moment of the pool recorded for the publisher's systems
    (docs/architecture.md#the-code-pool)."""

    STOCK_LOW = "stock.low"
    BACKORDER_FILLED = "backorder.filled"
    RESERVATION_EXPIRED = "reservation.expired"


class EventType(StrEnum):
    """What a webhook event reports (docs/product.md#events-signed-webhooks)."""

    UPLOAD_COMPLETED = "upload.completed"
    UPLOAD_REJECTED = "upload.rejected"
    STOCK_LOW = "stock.low"
    BACKORDER_FILLED = "backorder.filled"
    RESERVATION_EXPIRED = "reservation.expired"
    # Sent only by POST /api/v1/webhooks/<id>/test, to that endpoint alone.
    WEBHOOK_TEST = "webhook.test"


# What an endpoint can subscribe to: every event but the test, which it always gets when asked.
SUBSCRIBABLE = tuple(event for event in EventType if event is not EventType.WEBHOOK_TEST)


class DeliveryStatus(StrEnum):
    """A message's delivery to one endpoint (docs/architecture.md#webhooks-the-outbox-and-delivery)."""

    PENDING = "pending"  # due at next_attempt_at, tried again until it succeeds or gives up
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # given up: a 410, three days of failures, or the endpoint disabled


# Waiting for, or in the hands of, the Code Generator: it has a deadline.
PENDING = (RequestStatus.QUEUED, RequestStatus.PROCESSING)
# Final: the Code Generator has decided, and nothing moves it again.
DECIDED = (RequestStatus.COMPLETED, RequestStatus.REJECTED)
# Only a queued request can be deleted: once claimed, a worker owns it.
DELETABLE = (RequestStatus.QUEUED,)
# What lists and filters show: a deleted request is gone for its publisher.
LISTED = tuple(status for status in RequestStatus if status is not RequestStatus.DELETED)


def sql_list(values: Iterable[str]) -> str:
    """Constants as an SQL list for hand-written SQL: `('queued', 'processing')`.
    For the program's own names (statuses, formats, reason codes), never
    user input: nothing is escaped."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"
