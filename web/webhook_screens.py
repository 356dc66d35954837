"""The Webhooks screens (docs/product.md#the-webhooks-screen): the
publisher's endpoints with a form to register one, and each endpoint's page
(its settings, pause or resume, rotate the secret, send a test event,
delete after a page that asks first, and its delivery log with a Replay
button per message).

The rules are shared.events'; every change goes through
web/webhook_actions.py, as the API's do. A form's problems come from
shared.events.endpoints (InvalidFields), shown beside their fields.

A new secret is rendered once, in the response to the POST that made it
(as web/keys.py does with a new API key): never through a redirect and a
flashed message, which would carry it in the session cookie, and never in
a URL. Every other POST redirects (303) back to the page it came from.

Every lookup goes through the logged-in publisher: another publisher's
endpoint is a 404, exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from shared.errors import Conflict, InvalidFields
from shared.events import deliveries, endpoints
from shared.models import MAX_WEBHOOK_DESCRIPTION_LENGTH, MAX_WEBHOOK_URL_LENGTH, WebhookEndpoint
from shared.paging import whole_number
from shared.statuses import SUBSCRIBABLE, DeliveryStatus, EventType
from web import webhook_actions
from web.auth import current_publisher_id
from web.database import db
from web.screens import sentence

blueprint = Blueprint("webhooks", __name__)
DELIVERIES_PER_PAGE = 20
# What each event means to the person choosing it, beside its checkbox.
EVENT_MEANINGS = {
    EventType.UPLOAD_COMPLETED: "A request is completed: an upload's or a generation's codes are stored, "
    "or a dry run found its file good.",
    EventType.UPLOAD_REJECTED: "A request is rejected; the event carries its reason, and its page lists the problems.",
    EventType.STOCK_LOW: "A code type's available codes fall below its product's low-stock threshold "
    "(once each time they do).",
    EventType.BACKORDER_FILLED: "A backorder is filled: the allocation now holds its codes.",
    EventType.RESERVATION_EXPIRED: "A reservation expires: its codes are back in the pool.",
}
assert tuple(EVENT_MEANINGS) == SUBSCRIBABLE, "a sentence for every event an endpoint can subscribe to"
# The events ticked on an empty Register form: what a shop that stops polling wants first.
FIRST_CHOICE = (EventType.UPLOAD_COMPLETED, EventType.UPLOAD_REJECTED)
# How a field is named at the start of its problem's sentence.
FIELD_NAMES = {"url": "The URL", "events": "Events", "description": "The description"}
_STATES = {True: "resumed: events are sent to it again", False: "paused: no events are sent to it"}


@dataclass(frozen=True)
class WebhookForm:
    """A form as typed, and each refused field's problem as a sentence naming it."""

    url: str = ""
    events: list[str] = field(default_factory=list)
    description: str = ""
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_endpoint(cls, endpoint: WebhookEndpoint) -> WebhookForm:
        return cls(endpoint.url, list(endpoint.events), endpoint.description)

    def refused(self, refusal: InvalidFields) -> WebhookForm:
        named = {name: sentence(f"{FIELD_NAMES.get(name, name)} {why}") for name, why in refusal.problems.items()}
        return WebhookForm(self.url, self.events, self.description, named)


@blueprint.get("/webhooks")
@login_required
def webhooks() -> ResponseReturnValue:
    return _list_page(WebhookForm(events=list(FIRST_CHOICE)))


@blueprint.post("/webhooks")
@login_required
def register() -> ResponseReturnValue:
    form = _typed()
    values: dict[str, Any] = {"events": form.events, "description": form.description or None}
    if form.url:
        values["url"] = form.url  # an empty field is a missing URL, "required"
    try:
        registered = webhook_actions.register(current_publisher_id(), values)
    except InvalidFields as refusal:
        return _list_page(form.refused(refusal)), 400
    except Conflict as refusal:
        flash(sentence(str(refusal)), "error")
        return redirect(url_for("webhooks.webhooks"), 303)
    # The page holds the secret: web.security sends it no-store, as every page.
    return _list_page(WebhookForm(events=list(FIRST_CHOICE)), registered.secret, registered.endpoint)


@blueprint.get("/webhooks/<int:webhook_id>")
@login_required
def endpoint_page(webhook_id: int) -> ResponseReturnValue:
    endpoint = endpoints.endpoint_of(db(), current_publisher_id(), webhook_id)
    return _endpoint_page(endpoint, WebhookForm.of_endpoint(endpoint))


@blueprint.post("/webhooks/<int:webhook_id>/edit")
@login_required
def edit(webhook_id: int) -> ResponseReturnValue:
    endpoint = endpoints.endpoint_of(db(), current_publisher_id(), webhook_id)
    form = _typed()
    try:
        changed = webhook_actions.change(
            current_publisher_id(), webhook_id, {"events": form.events, "description": form.description}
        )
    except InvalidFields as refusal:  # raised before anything was changed
        shown = WebhookForm(endpoint.url, form.events, form.description)
        return _endpoint_page(endpoint, shown.refused(refusal)), 400
    flash(f"Endpoint {webhook_id} is saved: it is sent {', '.join(changed.events)} from now on.")
    return _back_to(webhook_id)


@blueprint.post("/webhooks/<int:webhook_id>/pause")
@login_required
def pause(webhook_id: int) -> ResponseReturnValue:
    return _enable(webhook_id, False)


@blueprint.post("/webhooks/<int:webhook_id>/resume")
@login_required
def resume(webhook_id: int) -> ResponseReturnValue:
    return _enable(webhook_id, True)


def _enable(webhook_id: int, enabled: bool) -> ResponseReturnValue:
    webhook_actions.change(current_publisher_id(), webhook_id, {"enabled": enabled})
    flash(f"Endpoint {webhook_id} is {_STATES[enabled]}.")
    return _back_to(webhook_id)


@blueprint.post("/webhooks/<int:webhook_id>/rotate-secret")
@login_required
def rotate_secret(webhook_id: int) -> ResponseReturnValue:
    rotated = webhook_actions.rotate_secret(current_publisher_id(), webhook_id)
    return _endpoint_page(rotated.endpoint, WebhookForm.of_endpoint(rotated.endpoint), new_secret=rotated.secret)


@blueprint.post("/webhooks/<int:webhook_id>/test")
@login_required
def send_test(webhook_id: int) -> ResponseReturnValue:
    try:
        message_id = webhook_actions.send_test(current_publisher_id(), webhook_id)
    except Conflict:
        flash(_not_sent(webhook_id, "no test event was sent"), "error")
        return _back_to(webhook_id)
    flash(f"A webhook.test event ({message_id}) is on its way; its delivery appears in the log below.")
    return _back_to(webhook_id)


@blueprint.get("/webhooks/<int:webhook_id>/delete")
@login_required
def confirm_delete(webhook_id: int) -> ResponseReturnValue:
    """The page that asks before a delete: it works without JavaScript."""
    endpoint = endpoints.endpoint_of(db(), current_publisher_id(), webhook_id)
    return render_template("webhook_delete.html", endpoint=endpoint)


@blueprint.post("/webhooks/<int:webhook_id>/delete")
@login_required
def delete(webhook_id: int) -> ResponseReturnValue:
    url = endpoints.endpoint_of(db(), current_publisher_id(), webhook_id).url
    webhook_actions.delete(current_publisher_id(), webhook_id)
    flash(f"Endpoint {webhook_id} ({url}) is deleted with its delivery log; no more events are sent to it.")
    return redirect(url_for("webhooks.webhooks"), 303)


@blueprint.post("/webhooks/<int:webhook_id>/deliveries/<message_id>/replay")
@login_required
def replay(webhook_id: int, message_id: str) -> ResponseReturnValue:
    try:
        webhook_actions.replay(current_publisher_id(), webhook_id, message_id)
    except Conflict:
        flash(_not_sent(webhook_id, f"{message_id} was not sent again"), "error")
        return _back_to(webhook_id)
    flash(f"Message {message_id} is sent again now, with the same webhook-id.")
    return _back_to(webhook_id)


def _list_page(form: WebhookForm, new_secret: str | None = None, new_endpoint: WebhookEndpoint | None = None) -> str:
    return render_template(
        "webhooks.html",
        endpoints=endpoints.endpoints_of(db(), current_publisher_id()),
        form=form,
        new_secret=new_secret,
        new_endpoint=new_endpoint,
        **_field_rules(),
    )


def _endpoint_page(endpoint: WebhookEndpoint, form: WebhookForm, new_secret: str | None = None) -> str:
    before = whole_number(request.args.get("before"), "before")
    logged = deliveries.log_of(db(), current_publisher_id(), endpoint.id, DELIVERIES_PER_PAGE + 1, before)
    page = logged[:DELIVERIES_PER_PAGE]
    older = page[-1].delivery.id if len(logged) > DELIVERIES_PER_PAGE else None
    return render_template(
        "webhook.html",
        endpoint=endpoint,
        form=form,
        new_secret=new_secret,
        log=page,
        older=older,
        paged=before is not None,
        **_field_rules(),
    )


def _field_rules() -> dict[str, Any]:
    return {
        "event_meanings": EVENT_MEANINGS,
        "max_url_length": MAX_WEBHOOK_URL_LENGTH,
        "max_description_length": MAX_WEBHOOK_DESCRIPTION_LENGTH,
        "pending": DeliveryStatus.PENDING,
        "rotation_hours": endpoints.ROTATION_OVERLAP_HOURS,
    }


def _typed() -> WebhookForm:
    """What was typed and ticked, without the blanks at the ends of the text."""
    return WebhookForm(
        url=request.form.get("url", "").strip(),
        events=request.form.getlist("events"),
        description=request.form.get("description", "").strip(),
    )


def _not_sent(webhook_id: int, what: str) -> str:
    """Why nothing was sent to an endpoint that is not enabled, and what to do."""
    endpoint = endpoints.endpoint_of(db(), current_publisher_id(), webhook_id)
    if endpoint.disabled_reason:
        return f"Endpoint {webhook_id} was disabled by the server, so {what}. Fix the receiver, then resume it."
    return f"Endpoint {webhook_id} is paused, so {what}. Resume it first."


def _back_to(webhook_id: int) -> ResponseReturnValue:
    return redirect(url_for("webhooks.endpoint_page", webhook_id=webhook_id), 303)
