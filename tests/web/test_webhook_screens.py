"""The Webhooks screens (docs/product.md#the-webhooks-screen): register an
endpoint through the form (its secret shown once, in the response to the
POST), each refused field beside its field with nothing stored, edit,
pause and resume, rotate, delete after a page that asks first, send a test
event, the delivery log paged newest first with its attempts and a Replay
per message, why the server disabled an endpoint; another publisher's
endpoint a 404 on every route, and every POST refused without its CSRF
token. Deliveries run in the test's process
(shared.events.deliveries.deliver_due, as the task runs it) to a real
receiver on 127.0.0.1, which the session's settings allow."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.config import Settings
from shared.events import deliveries, endpoints, secrets
from tests.conftest import Tenant
from tests.events.receiver import Receiver, receiver
from tests.web.test_login import FormFields, csrf_token, post_login

URL = "https://93.184.216.34/hooks"
SECRET_SHAPE = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")


def logged_in(client: FlaskClient, tenant: Tenant) -> str:
    """Log `tenant` in; the CSRF token of the Webhooks page."""
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    page = client.get("/webhooks")
    assert page.status_code == 200
    return csrf_token(page)


def register(client: FlaskClient, token: str, url: str = URL, events: tuple[str, ...] = ("upload.completed",),
             description: str = "") -> TestResponse:  # fmt: skip
    return client.post(
        "/webhooks", data={"csrf_token": token, "url": url, "events": list(events), "description": description}
    )


def secret_on(response: TestResponse) -> str | None:
    """The value of the field showing a new secret, if the page has one."""
    match = re.search(r'<input[^>]*id="new-secret"[^>]*value="([^"]*)"', response.get_data(as_text=True))
    return match.group(1) if match else None


def endpoint_rows(sessions: sessionmaker[Session]) -> list[Any]:
    with sessions() as session:
        return list(
            session.execute(
                text("SELECT id, url, events, description, enabled, disabled_reason FROM webhook_endpoints ORDER BY id")
            ).all()
        )


@dataclass
class Screen:
    """A logged-in publisher with one endpoint registered through the form."""

    client: FlaskClient
    sessions: sessionmaker[Session]
    acme: Tenant
    token: str
    endpoint_id: int
    secret: str

    @property
    def base(self) -> str:
        return f"/webhooks/{self.endpoint_id}"

    def post(self, path: str, **data: Any) -> TestResponse:
        return self.client.post(f"{self.base}{path}", data={"csrf_token": self.token, **data})

    def page(self, **query: str) -> str:
        response = self.client.get(self.base, query_string=query)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def row(self) -> Any:
        (row,) = [one for one in endpoint_rows(self.sessions) if one.id == self.endpoint_id]
        return row


def screen_for(client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant, url: str = URL) -> Screen:
    token = logged_in(client, acme)
    response = register(client, token, url=url)
    assert response.status_code == 200, response.get_data(as_text=True)
    secret = secret_on(response)
    assert secret is not None
    (row,) = endpoint_rows(sessions)
    return Screen(client, sessions, acme, token, row.id, secret)


@pytest.fixture
def screen(client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any) -> Screen:
    return screen_for(client, sessions, make_tenant("Acme"))


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def deliver(sessions: sessionmaker[Session], settings: Settings) -> int:
    return deliveries.deliver_due(sessions, settings.webhooks, settings.secret_key, 10).attempts


def test_the_webhooks_page_requires_login_and_the_nav_links_to_it(client: FlaskClient, make_tenant: Any) -> None:
    response = client.get("/webhooks")
    assert response.status_code == 302 and response.location.startswith("/login")

    logged_in(client, make_tenant("Acme"))

    assert '<a href="/webhooks">Webhooks</a>' in client.get("/products").get_data(as_text=True)
    html = client.get("/webhooks").get_data(as_text=True)
    assert '<a href="/webhooks" aria-current="page">Webhooks</a>' in html
    assert "<h1>Webhooks</h1>" in html and "No endpoints yet" in html


def test_the_form_offers_each_event_with_what_it_means(client: FlaskClient, make_tenant: Any) -> None:
    logged_in(client, make_tenant("Acme"))
    html = client.get("/webhooks").get_data(as_text=True)
    fields = FormFields(html)

    for event, meaning in [
        ("upload.completed", "A request is completed"),
        ("upload.rejected", "A request is rejected"),
        ("stock.low", "low-stock threshold"),
        ("backorder.filled", "A backorder is filled"),
        ("reservation.expired", "A reservation expires"),
    ]:
        assert fields.labels[f"event-{event}"].strip() == event
        assert re.search(rf'id="event-{re.escape(event)}-hint">[^<]*{meaning}', html), event
    assert 'value="webhook.test"' not in html  # sent when asked, never subscribed to
    ticked = re.findall(r'name="events" value="([a-z.]+)" checked', html)
    assert ticked == ["upload.completed", "upload.rejected"]  # what a shop that stops polling wants first
    assert fields.labels["url"].strip() == "URL"


def test_a_registered_endpoint_shows_its_secret_once_and_keeps_it_sealed(
    client: FlaskClient,
    make_tenant: Any,
    sessions: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = logged_in(client, make_tenant("Acme"))
    caplog.set_level(logging.DEBUG)

    response = register(client, token, events=("stock.low", "upload.completed"), description="the shop")

    assert response.status_code == 200
    secret = secret_on(response)
    assert secret is not None and SECRET_SHAPE.fullmatch(secret)
    html = response.get_data(as_text=True)
    assert "will not be shown again" in html and "Copy the secret" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert secret not in response.headers.get("Set-Cookie", "") and response.location is None
    (row,) = endpoint_rows(sessions)
    assert (row.url, row.events, row.description) == (URL, ["upload.completed", "stock.low"], "the shop")
    assert row.enabled
    with sessions() as session:
        sealed = session.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one()
    assert secrets.unseal(sealed, settings.secret_key) == secret

    again = client.get("/webhooks")
    assert secret_on(again) is None and secret not in again.get_data(as_text=True)
    assert URL in again.get_data(as_text=True) and "the shop" in again.get_data(as_text=True)
    assert secret not in client.get(f"/webhooks/{row.id}").get_data(as_text=True)
    assert secret.removeprefix("whsec_") not in caplog.text  # nor in any log


def test_past_the_most_endpoints_a_publisher_may_have_the_page_says_to_delete_one(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("Acme")
    for _ in range(endpoints.MAX_ENDPOINTS_PER_PUBLISHER):
        body = {"url": URL, "events": ["stock.low"]}
        assert client.post("/api/v1/webhooks", json=body, headers=acme.auth).status_code == 201
    token = logged_in(client, acme)

    refused = register(client, token)

    assert refused.status_code == 303 and refused.location == "/webhooks"
    limit = endpoints.MAX_ENDPOINTS_PER_PUBLISHER
    assert f"At most {limit} webhook endpoints a publisher; delete one first." in client.get("/webhooks").get_data(
        as_text=True
    )
    assert len(endpoint_rows(sessions)) == limit


@pytest.mark.parametrize(
    ("url", "events", "field", "problem"),
    [
        ("", ("upload.completed",), "url", "The URL is required."),
        ("notaurl", ("upload.completed",), "url", "The URL must be an https:// URL with a host."),
        ("ftp://93.184.216.34/hooks", ("upload.completed",), "url", "The URL must be an https:// URL with a host."),
        (URL, (), "events", "Events must be a list of one or more of upload.completed"),
        (URL, ("upload.done",), "events", "Events must be a list of one or more of"),
    ],
)
def test_a_refused_field_is_named_beside_it_and_nothing_is_stored(
    client: FlaskClient,
    make_tenant: Any,
    sessions: sessionmaker[Session],
    url: str,
    events: tuple[str, ...],
    field: str,
    problem: str,
) -> None:
    token = logged_in(client, make_tenant("Acme"))

    response = register(client, token, url=url, events=events, description="kept as typed")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    beside = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', html)
    assert beside and beside.group(1).startswith(problem), beside
    assert "The endpoint was not registered: a field needs a change." in html
    assert f'aria-describedby="{field}-error' in html
    assert 'value="kept as typed"' in html and secret_on(response) is None
    assert endpoint_rows(sessions) == []


def test_a_description_too_long_is_refused_beside_its_field(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    token = logged_in(client, make_tenant("Acme"))

    response = register(client, token, description="x" * 501)

    assert response.status_code == 400
    assert 'id="description-error">The description must be text of at most 500 characters' in response.get_data(
        as_text=True
    )
    assert endpoint_rows(sessions) == []


def test_the_events_and_description_are_changed_and_a_refused_change_changes_nothing(screen: Screen) -> None:
    saved = screen.post("/edit", events=["backorder.filled", "stock.low"], description="orders")

    assert saved.status_code == 303 and saved.location == screen.base
    assert (screen.row().events, screen.row().description) == (["stock.low", "backorder.filled"], "orders")
    assert (
        f"Endpoint {screen.endpoint_id} is saved: it is sent stock.low, backorder.filled from now on." in screen.page()
    )

    refused = screen.post("/edit", description="no events")

    assert refused.status_code == 400
    assert 'id="events-error">Events must be a list of one or more of' in refused.get_data(as_text=True)
    assert (screen.row().events, screen.row().description) == (["stock.low", "backorder.filled"], "orders")


def test_a_paused_endpoint_is_resumed_and_a_test_or_replay_is_refused_while_paused(screen: Screen) -> None:
    screen.post("/test")
    with screen.sessions() as session:
        message_id = session.execute(text("SELECT message_id FROM webhook_messages")).scalar_one()

    paused = screen.post("/pause")

    assert paused.status_code == 303 and screen.row().enabled is False
    html = screen.page()
    assert "is paused: no events are sent to it" in html and ">Paused</span>" in html
    assert f'action="{screen.base}/resume"' in html

    refused = screen.post("/test")

    assert refused.status_code == 303
    assert f"Endpoint {screen.endpoint_id} is paused, so no test event was sent. Resume it first." in screen.page()
    screen.post(f"/deliveries/{message_id}/replay")
    assert f"Endpoint {screen.endpoint_id} is paused, so {message_id} was not sent again." in screen.page()
    with screen.sessions() as session:
        assert session.execute(text("SELECT count(*) FROM webhook_messages")).scalar_one() == 1

    assert screen.post("/resume").status_code == 303 and screen.row().enabled is True
    assert ">Enabled</span>" in screen.page()


def test_an_endpoint_is_deleted_after_a_page_that_asks_first(screen: Screen) -> None:
    asking = screen.client.get(f"{screen.base}/delete")

    assert asking.status_code == 200
    html = asking.get_data(as_text=True)
    assert f"Delete endpoint {screen.endpoint_id}?" in html and "cannot be undone" in html
    assert screen.row().enabled  # asking changes nothing

    deleted = screen.post("/delete")

    assert deleted.status_code == 303 and deleted.location == "/webhooks"
    assert endpoint_rows(screen.sessions) == []
    assert f"Endpoint {screen.endpoint_id} ({URL}) is deleted" in screen.client.get("/webhooks").get_data(as_text=True)
    assert screen.client.get(screen.base).status_code == 404


def test_a_rotation_shows_the_new_secret_once_and_says_the_old_signs_for_24_hours(
    screen: Screen, settings: Settings
) -> None:
    rotated = screen.post("/rotate-secret")

    assert rotated.status_code == 200
    new = secret_on(rotated)
    assert new is not None and SECRET_SHAPE.fullmatch(new) and new != screen.secret
    html = rotated.get_data(as_text=True)
    assert "will not be shown again" in html
    until = r"The old secret keeps signing beside it until <time[^>]*>[^<]+</time> UTC, for\s+24 more hours"
    assert re.search(until, html)
    with screen.sessions() as session:
        sealed, hours = session.execute(
            text("SELECT secret, extract(epoch FROM previous_secret_until - now()) / 3600 FROM webhook_endpoints")
        ).one()
    assert secrets.unseal(sealed, settings.secret_key) == new and 23.9 < float(hours) <= 24
    assert new not in screen.page() and "the old secret signs beside the new one until" in screen.page()


def test_a_test_event_writes_a_delivery_shown_in_the_log(screen: Screen) -> None:
    sent = screen.post("/test")

    assert sent.status_code == 303 and sent.location == screen.base
    with screen.sessions() as session:
        (delivery,) = session.execute(
            text(
                "SELECT m.message_id, m.type, d.status FROM webhook_deliveries d"
                " JOIN webhook_messages m ON m.id = d.message_id WHERE d.endpoint_id = :id"
            ),
            {"id": screen.endpoint_id},
        ).all()
    assert (delivery.type, delivery.status) == ("webhook.test", "pending")
    html = screen.page()
    assert f"A webhook.test event ({delivery.message_id}) is on its way" in html
    assert delivery.message_id in html and ">Pending</span>" in html and "Next attempt" in html
    assert f'action="{screen.base}/deliveries/{delivery.message_id}/replay"' in html


def test_a_delivered_message_shows_its_attempt_and_is_replayed_with_the_same_id(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session], settings: Settings, hooks: Receiver
) -> None:
    screen = screen_for(client, sessions, make_tenant("Acme"), url=hooks.url)
    hooks.answers = [503]
    screen.post("/test")
    assert deliver(sessions, settings) == 1

    failed = screen.page()
    # The attempt's row: its status code, its duration and the receiver's answer.
    attempt = r'<td>503</td>\s*<td class="num">[\d,]+ ms</td>\s*<td class="response"><code>ok</code>'
    assert re.search(attempt, failed)
    assert "the endpoint answered 503" in failed and ">Pending</span>" in failed

    (message_id,) = {one.headers["webhook-id"] for one in hooks.received}
    replayed = screen.post(f"/deliveries/{message_id}/replay")

    assert replayed.status_code == 303
    assert f"Message {message_id} is sent again now, with the same webhook-id." in screen.page()
    assert deliver(sessions, settings) == 1
    assert [one.headers["webhook-id"] for one in hooks.received] == [message_id, message_id]
    assert hooks.verified(screen.secret)
    html = screen.page()
    assert ">Succeeded</span>" in html and "<td>200</td>" in html and "<td>503</td>" in html
    assert screen.post("/deliveries/msg_none/replay").status_code == 404


def test_the_log_is_paged_newest_first(screen: Screen) -> None:
    for _ in range(23):
        screen.post("/test")
    with screen.sessions() as session:
        sent = list(session.execute(text("SELECT message_id FROM webhook_messages ORDER BY id DESC")).scalars())

    first = screen.page()

    shown = re.findall(r'<h3 id="message-(msg_[0-9a-f]+)"', first)
    assert shown == sent[:20]
    older = re.search(r'<a rel="next" href="([^"]+)">Older messages</a>', first)
    assert older
    second = screen.client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert re.findall(r'<h3 id="message-(msg_[0-9a-f]+)"', second) == sent[20:]
    assert "Older messages" not in second and "Newest messages" in second
    bad = screen.client.get(screen.base, query_string={"before": "x"})
    assert bad.status_code == 400 and "Before must be a whole number of at least 1" in bad.get_data(as_text=True)


def test_why_the_server_disabled_an_endpoint_is_shown_as_a_notice_until_it_is_resumed(screen: Screen) -> None:
    with screen.sessions.begin() as session:
        session.execute(
            text("UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'the endpoint answered 410 Gone'")
        )

    for html in (screen.client.get("/webhooks").get_data(as_text=True), screen.page()):
        notice = re.search(r'<div class="notice notice-error disabled-reason"[^>]*>(.*?)</div>', html, re.DOTALL)
        assert notice and "was disabled by the server:</strong> the endpoint answered 410 Gone." in notice.group(1)
        assert "Disabled by the server" in html
    screen.post("/test")
    assert "was disabled by the server, so no test event was sent. Fix the receiver, then resume it." in screen.page()

    screen.post("/resume")

    assert (screen.row().enabled, screen.row().disabled_reason) == (True, None)
    assert "disabled-reason" not in screen.page()


def test_another_publishers_endpoint_is_404_on_every_route_and_stays_as_it_was(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    theirs = screen_for(client, sessions, make_tenant("Globex"))
    theirs.post("/test")
    with sessions() as session:
        message_id = session.execute(text("SELECT message_id FROM webhook_messages")).scalar_one()
    client.post("/logout", data={"csrf_token": theirs.token})
    token = logged_in(client, make_tenant("Acme"))
    base = theirs.base

    calls = [client.get(base), client.get(f"{base}/delete")] + [
        client.post(f"{base}{path}", data={"csrf_token": token, "events": ["stock.low"], "description": "mine"})
        for path in ("/edit", "/pause", "/resume", "/rotate-secret", "/test", f"/deliveries/{message_id}/replay")
    ]
    calls.append(client.post(f"{base}/delete", data={"csrf_token": token}))

    assert [call.status_code for call in calls] == [404] * len(calls)
    assert all(secret_on(call) is None for call in calls)
    row = theirs.row()
    assert (row.events, row.description, row.enabled) == (["upload.completed"], "", True)
    assert URL not in client.get("/webhooks").get_data(as_text=True)


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(screen: Screen) -> None:
    before = screen.row()
    base = screen.base
    posts = [("/webhooks", {"url": "https://93.184.216.35/", "events": ["stock.low"]})] + [
        (f"{base}{path}", {"events": ["stock.low"], "description": "forged"})
        for path in ("/edit", "/pause", "/rotate-secret", "/test", "/deliveries/msg_x/replay", "/delete")
    ]

    for path, data in posts:
        response = screen.client.post(path, data=data)
        assert response.status_code == 400, path
        assert "The form had expired or came from another site" in response.get_data(as_text=True)

    assert endpoint_rows(screen.sessions) == [before]
    with screen.sessions() as session:
        assert session.execute(text("SELECT count(*) FROM webhook_messages")).scalar_one() == 0
        assert session.execute(text("SELECT previous_secret FROM webhook_endpoints")).scalar_one() is None
