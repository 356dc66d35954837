"""The outbox: an event is written in the transaction of the change it
reports, with one delivery per enabled endpoint of the publisher subscribed
to it, so it is sent exactly when that change commits, and never for a
change that rolled back (docs/architecture.md#webhooks-the-outbox-and-delivery).
Delivery is the worker's (shared.events.deliveries); nothing here waits on
Redis or on a receiver."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.models import UploadRequest
from shared.shapes import upload_json
from shared.statuses import EventType, RequestStatus

Database = Session | Connection


def steps(publisher: str, wanted: str, event_type: str, data: str) -> str:
    """The steps of a WITH statement that write an event: `outbox_endpoints`,
    the publisher's endpoints that want it (`wanted`, a condition on
    webhook_endpoints); `outbox_message`, the message, from the row `data`
    selects (a query of one column, `data`, of at most one row), stored only
    when some endpoint wants it, so an event nobody subscribed to writes
    nothing; `outbox_deliveries`, one per endpoint. Each argument is SQL.
    The trigger of migration 0023 writes stock.low events with a frozen copy
    of these steps (migrations never change with the code)."""
    return f"""
    outbox_endpoints AS (
        SELECT id FROM webhook_endpoints WHERE publisher_id = {publisher} AND {wanted}
    ), outbox_message AS (
        INSERT INTO webhook_messages (message_id, publisher_id, type, data)
        SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), {publisher}, {event_type}, source.data
        FROM ({data}) AS source
        WHERE EXISTS (SELECT 1 FROM outbox_endpoints)
        RETURNING id, message_id
    ), outbox_deliveries AS (
        INSERT INTO webhook_deliveries (message_id, endpoint_id)
        SELECT outbox_message.id, outbox_endpoints.id FROM outbox_message, outbox_endpoints
    )"""


_PUBLISH = text(
    "WITH"
    + steps(
        ":publisher_id",
        """CASE WHEN CAST(:endpoint_id AS bigint) IS NULL THEN enabled AND events ? :type
                ELSE id = CAST(:endpoint_id AS bigint) END""",
        ":type",
        "SELECT CAST(:data AS jsonb) AS data",
    )
    + " SELECT message_id FROM outbox_message"
)

# The product's publisher, when one of its enabled endpoints wants the event.
_SUBSCRIBED_TO_PRODUCT = text(
    """
    SELECT products.publisher_id FROM products
    WHERE products.product_id = :product_id AND EXISTS (
        SELECT 1 FROM webhook_endpoints
        WHERE publisher_id = products.publisher_id AND enabled AND events ? :type)
    """
)

_EVENT_OF_STATUS = {
    RequestStatus.COMPLETED: EventType.UPLOAD_COMPLETED,
    RequestStatus.REJECTED: EventType.UPLOAD_REJECTED,
}


def publish(
    db: Database, publisher_id: int, event: EventType, data: dict[str, Any], endpoint_id: int | None = None
) -> str | None:
    """Write the event for the publisher's endpoints subscribed to it, in
    the caller's transaction; the message id, or None when no endpoint
    wants it. `endpoint_id`: to that endpoint alone, subscribed or not (a test)."""
    params = {
        "publisher_id": publisher_id,
        "endpoint_id": endpoint_id,
        "type": event.value,
        "data": json.dumps(data),
    }
    return db.execute(_PUBLISH, params).scalar_one_or_none()


def subscriber_of_product(db: Database, product_id: int, event: EventType) -> int | None:
    """The publisher of the product when an endpoint of theirs wants the
    event, else None: the caller builds the event's data only then."""
    return db.execute(_SUBSCRIBED_TO_PRODUCT, {"product_id": product_id, "type": event.value}).scalar_one_or_none()


def requests_decided(db: Database, request_ids: Sequence[int]) -> None:
    """`upload.completed` or `upload.rejected` for each of these requests
    that is decided now, in the transaction that decided it. The data is
    the request as the API shows it, without its `errors` list."""
    if not request_ids:
        return
    columns = UploadRequest.__table__.c
    rows = db.execute(
        select(*columns).where(columns.id.in_(request_ids), columns.status.in_(list(_EVENT_OF_STATUS)))
    ).all()
    for row in rows:
        request = UploadRequest(**row._mapping)  # transient: read, never added to a session
        data = upload_json(request)
        del data["errors"]
        publish(db, request.publisher_id, _EVENT_OF_STATUS[RequestStatus(request.status)], data)
