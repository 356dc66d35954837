"""The caller's webhook endpoints and their delivery logs
(docs/product.md#events-signed-webhooks). The rules are
shared.events'; these views parse, call web.webhook_actions, and serialize."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, url_for
from flask.typing import ResponseReturnValue

from shared.events import deliveries, endpoints
from web import webhook_actions
from web.api import blueprint, schemas
from web.database import db
from web.serialize import delivery_json, webhook_json

WEBHOOK_ID = [{"in": "path", "name": "webhook_id", "description": "the endpoint's id"}]
MESSAGE_ID = [*WEBHOOK_ID, {"in": "path", "name": "message_id", "description": "the message's webhook-id"}]
DEFAULT_PAGE = 50
_CREATED = {"Location": {"required": True, "description": "the endpoint's URL", "schema": {"type": "string"}}}


@blueprint.post("/webhooks")
@blueprint.arguments(schemas.NewWebhook, location="json")
@blueprint.response(201, schemas.WebhookWithSecret, description="The endpoint, with its secret", headers=_CREATED)
@blueprint.errors(409)
def new_webhook(body: dict[str, Any]) -> ResponseReturnValue:
    """Register an endpoint

    The response holds the endpoint's signing secret, shown this once. The
    URL's host is resolved now: an address that is not public is a 400
    naming `url`.
    """
    registered = webhook_actions.register(g.publisher_id, body)
    location = url_for("api.get_webhook", webhook_id=registered.endpoint.id)
    return jsonify(webhook_json(registered.endpoint) | {"secret": registered.secret}), 201, {"Location": location}


@blueprint.get("/webhooks")
@blueprint.response(200, schemas.WebhookList, description="The endpoints, by id")
@blueprint.errors()
def list_webhooks() -> ResponseReturnValue:
    """The caller's endpoints"""
    return jsonify({"items": [webhook_json(e) for e in endpoints.endpoints_of(db(), g.publisher_id)]})


@blueprint.get("/webhooks/<int:webhook_id>", parameters=WEBHOOK_ID)
@blueprint.response(200, schemas.Webhook, description="The endpoint")
@blueprint.errors(404)
def get_webhook(webhook_id: int) -> ResponseReturnValue:
    """One endpoint"""
    return jsonify(webhook_json(endpoints.endpoint_of(db(), g.publisher_id, webhook_id)))


@blueprint.patch("/webhooks/<int:webhook_id>", parameters=WEBHOOK_ID)
@blueprint.arguments(schemas.WebhookChanges, location="json")
@blueprint.response(200, schemas.Webhook, description="The endpoint, changed")
@blueprint.errors(404)
def edit_webhook(body: dict[str, Any], webhook_id: int) -> ResponseReturnValue:
    """Change an endpoint's events, description, or whether it is enabled"""
    return jsonify(webhook_json(webhook_actions.change(g.publisher_id, webhook_id, body)))


@blueprint.delete("/webhooks/<int:webhook_id>", parameters=WEBHOOK_ID)
@blueprint.response(204, description="Deleted, with its delivery log")
@blueprint.errors(404)
def delete_webhook(webhook_id: int) -> ResponseReturnValue:
    """Delete an endpoint"""
    webhook_actions.delete(g.publisher_id, webhook_id)
    return Response(status=204)


@blueprint.post("/webhooks/<int:webhook_id>/rotate-secret", parameters=WEBHOOK_ID)
@blueprint.response(200, schemas.WebhookWithSecret, description="The endpoint, with its new secret")
@blueprint.errors(404)
def rotate_webhook_secret(webhook_id: int) -> ResponseReturnValue:
    """Give an endpoint a new secret

    The new secret is shown this once. The old one keeps signing beside it
    for 24 hours (`previous_secret_until`): each message carries both
    signatures meanwhile.
    """
    rotated = webhook_actions.rotate_secret(g.publisher_id, webhook_id)
    return jsonify(webhook_json(rotated.endpoint) | {"secret": rotated.secret})


@blueprint.post("/webhooks/<int:webhook_id>/test", parameters=WEBHOOK_ID)
@blueprint.response(202, schemas.WebhookMessageSent, description="A webhook.test event, on its way")
@blueprint.errors(404, 409)
def test_webhook(webhook_id: int) -> ResponseReturnValue:
    """Send a webhook.test event to the endpoint"""
    return jsonify({"message_id": webhook_actions.send_test(g.publisher_id, webhook_id)}), 202


@blueprint.get("/webhooks/<int:webhook_id>/deliveries", parameters=WEBHOOK_ID)
@blueprint.arguments(schemas.WebhookDeliveryQuery, location="query")
@blueprint.response(200, schemas.WebhookDeliveryPage, description="A page of the delivery log")
@blueprint.errors(404)
def list_deliveries(query: dict[str, Any], webhook_id: int) -> ResponseReturnValue:
    """An endpoint's deliveries, newest first, each with its latest attempts"""
    limit = query.get("limit", DEFAULT_PAGE)
    logged = deliveries.log_of(db(), g.publisher_id, webhook_id, limit + 1, query.get("before"))
    page, more = logged[:limit], len(logged) > limit
    next_url = (
        url_for("api.list_deliveries", webhook_id=webhook_id, limit=limit, before=page[-1].delivery.id)
        if more
        else None
    )
    return jsonify({"items": [delivery_json(one) for one in page], "next": next_url})


@blueprint.post("/webhooks/<int:webhook_id>/deliveries/<message_id>/replay", parameters=MESSAGE_ID)
@blueprint.response(202, schemas.WebhookMessageSent, description="The message, due again now")
@blueprint.errors(404, 409)
def replay_delivery(webhook_id: int, message_id: str) -> ResponseReturnValue:
    """Send a message to the endpoint again, with the same webhook-id"""
    webhook_actions.replay(g.publisher_id, webhook_id, message_id)
    return jsonify({"message_id": message_id}), 202
