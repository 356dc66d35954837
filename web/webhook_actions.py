"""What the API and the screens do to a publisher's webhook endpoints,
written once: each commits its own transaction, then, when it wrote a
message to send (a test, a replay), wakes the delivery
(docs/architecture.md#webhooks-the-outbox-and-delivery)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from shared.config import Settings
from shared.events import deliveries, endpoints
from shared.models import WebhookDelivery, WebhookEndpoint
from web.database import db


def register(publisher_id: int, values: Mapping[str, Any]) -> endpoints.Registered:
    settings = _settings()
    registered = endpoints.register(db(), publisher_id, values, settings.webhooks, settings.secret_key)
    db().commit()
    return registered


def change(publisher_id: int, endpoint_id: int, values: Mapping[str, Any]) -> WebhookEndpoint:
    endpoint = endpoints.change(db(), publisher_id, endpoint_id, values)
    db().commit()
    return endpoint


def delete(publisher_id: int, endpoint_id: int) -> None:
    endpoints.delete(db(), publisher_id, endpoint_id)
    db().commit()


def rotate_secret(publisher_id: int, endpoint_id: int) -> endpoints.Registered:
    rotated = endpoints.rotate_secret(db(), publisher_id, endpoint_id, _settings().secret_key)
    db().commit()
    return rotated


def send_test(publisher_id: int, endpoint_id: int) -> str:
    message_id = endpoints.send_test(db(), publisher_id, endpoint_id)
    db().commit()
    _wake()
    return message_id


def replay(publisher_id: int, endpoint_id: int, message_id: str) -> WebhookDelivery:
    delivery = deliveries.replay(db(), publisher_id, endpoint_id, message_id)
    db().commit()
    _wake()
    return delivery


def _settings() -> Settings:
    settings: Settings = current_app.extensions["licensecodes.settings"]
    return settings


def _wake() -> None:
    current_app.extensions["licensecodes.dispatcher"].webhooks_due()
