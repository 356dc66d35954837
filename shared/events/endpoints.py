"""A publisher's webhook endpoints: register, look up, change, rotate the
secret, delete, send a test. Every function takes the caller's publisher:
another publisher's endpoint is not found, exactly like one that does not
exist. The caller owns the session and commits. The API and the screens
alike call these (docs/product.md#events-signed-webhooks)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.config import WebhookSettings
from shared.errors import Conflict, InvalidFields, NotFound
from shared.events import addresses, outbox, secrets
from shared.models import MAX_WEBHOOK_DESCRIPTION_LENGTH, WebhookEndpoint
from shared.statuses import SUBSCRIBABLE, EventType

# How long the secret before a rotation keeps signing beside the new one.
ROTATION_OVERLAP_HOURS = 24
MAX_ENDPOINTS_PER_PUBLISHER = 20
CHANGEABLE = ("events", "description", "enabled")
# No control characters (C0, DEL, C1): the description is shown on the screens.
DESCRIPTION_SHAPE = re.compile(r"[^\x00-\x1f\x7f-\x9f]*")


@dataclass(frozen=True)
class Registered:
    """A new endpoint and its secret, which is shown this once."""

    endpoint: WebhookEndpoint
    secret: str


def register(
    session: Session,
    publisher_id: int,
    values: Mapping[str, Any],
    policy: WebhookSettings,
    server_key: str,
) -> Registered:
    """InvalidFields naming each bad field: the URL is resolved and checked
    now (shared.events.addresses), and again at every delivery."""
    problems = _problems(values, required=("url", "events"))
    if "url" not in problems:
        try:
            addresses.checked(values["url"], policy)
        except InvalidFields as refused:
            problems |= refused.problems
    if problems:
        raise InvalidFields(problems)
    count = session.scalar(select(func.count()).where(WebhookEndpoint.publisher_id == publisher_id))
    if (count or 0) >= MAX_ENDPOINTS_PER_PUBLISHER:
        raise Conflict(f"at most {MAX_ENDPOINTS_PER_PUBLISHER} webhook endpoints a publisher; delete one first")
    secret = secrets.new_secret()
    endpoint = WebhookEndpoint(
        publisher_id=publisher_id,
        url=values["url"],
        events=_events(values["events"]),
        description=values.get("description") or "",
        secret=secrets.seal(secret, server_key),
    )
    session.add(endpoint)
    session.flush()
    session.refresh(endpoint)
    return Registered(endpoint, secret)


def endpoints_of(session: Session, publisher_id: int) -> Sequence[WebhookEndpoint]:
    return session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.publisher_id == publisher_id).order_by(WebhookEndpoint.id)
    ).all()


def endpoint_of(session: Session, publisher_id: int, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.publisher_id == publisher_id
    )
    endpoint = session.scalar(query.with_for_update() if lock else query)
    if endpoint is None:
        raise NotFound(f"there is no webhook endpoint {endpoint_id}")
    return endpoint


def change(session: Session, publisher_id: int, endpoint_id: int, values: Mapping[str, Any]) -> WebhookEndpoint:
    """Change `events`, `description` or `enabled`, only those sent.
    Enabling an endpoint clears why it was disabled."""
    unknown = sorted(set(values) - set(CHANGEABLE))
    problems = {name: f"is not a field that can be changed; the fields are {', '.join(CHANGEABLE)}" for name in unknown}
    problems |= _problems(values, required=())
    if problems:
        raise InvalidFields(problems)
    endpoint = endpoint_of(session, publisher_id, endpoint_id, lock=True)
    if "events" in values:
        endpoint.events = _events(values["events"])
    if "description" in values:
        endpoint.description = values["description"] or ""
    if "enabled" in values:
        endpoint.enabled = values["enabled"]
        endpoint.disabled_reason = None
    session.flush()
    return endpoint


def delete(session: Session, publisher_id: int, endpoint_id: int) -> None:
    """The endpoint, its deliveries and their log."""
    session.delete(endpoint_of(session, publisher_id, endpoint_id, lock=True))
    session.flush()


def rotate_secret(session: Session, publisher_id: int, endpoint_id: int, server_key: str) -> Registered:
    """A new secret, shown this once; the current one keeps signing beside
    it for ROTATION_OVERLAP_HOURS, so receivers can switch without losing a message."""
    endpoint = endpoint_of(session, publisher_id, endpoint_id, lock=True)
    secret = secrets.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.secret = secrets.seal(secret, server_key)
    endpoint.previous_secret_until = session.scalar(
        select(func.now() + text(f"interval '{ROTATION_OVERLAP_HOURS} hours'"))
    )
    session.flush()
    return Registered(endpoint, secret)


def send_test(session: Session, publisher_id: int, endpoint_id: int) -> str:
    """A `webhook.test` event to this endpoint alone; its message id."""
    endpoint = endpoint_of(session, publisher_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    data = {"endpoint_id": endpoint.id, "url": endpoint.url, "message": "A test event, sent when asked."}
    message_id = outbox.publish(session, publisher_id, EventType.WEBHOOK_TEST, data, endpoint_id=endpoint.id)
    assert message_id is not None  # the endpoint is there: the statement always writes for it
    return message_id


def signing_secrets(endpoint: WebhookEndpoint, server_key: str, previous_still_signs: bool) -> list[str]:
    """The secrets that sign a message to it now: the current one, and the
    one before the last rotation while its 24 hours last."""
    found = [secrets.unseal(endpoint.secret, server_key)]
    if endpoint.previous_secret is not None and previous_still_signs:
        try:
            found.append(secrets.unseal(endpoint.previous_secret, server_key))
        except secrets.SecretUnreadable:
            pass  # rotated because SECRET_KEY changed: the new secret alone signs
    return found


def _problems(values: Mapping[str, Any], required: Sequence[str]) -> dict[str, str]:
    problems = {name: "is required" for name in required if name not in values}
    events = values.get("events")
    if "events" in values and not (
        isinstance(events, list) and events and all(isinstance(e, str) and e in SUBSCRIBABLE for e in events)
    ):
        problems["events"] = f"must be a list of one or more of {', '.join(SUBSCRIBABLE)}"
    description = values.get("description")
    if description is not None and not (
        isinstance(description, str)
        and len(description) <= MAX_WEBHOOK_DESCRIPTION_LENGTH
        and DESCRIPTION_SHAPE.fullmatch(description)
    ):
        problems["description"] = (
            f"must be text of at most {MAX_WEBHOOK_DESCRIPTION_LENGTH} characters, none a control character"
        )
    if "enabled" in values and not isinstance(values["enabled"], bool):
        problems["enabled"] = "must be true or false"
    return problems


def _events(events: list[str]) -> list[str]:
    return sorted(set(events), key=SUBSCRIBABLE.index)
