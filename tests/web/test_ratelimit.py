"""Rate limits (web.ratelimit): calls per key, per signed-in user and per
publisher; 429 with Retry-After once over, counted in Redis across
processes, and no outage of the API when Redis is gone. Failed logins:
tests/web/test_login_limits.py."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from shared.broker import redis_client
from shared.config import Settings
from shared.tenants import create_api_key, publisher_named
from tests.web.test_api import assert_api_error
from tests.web.test_login import post_login
from web import create_app
from web.ratelimit import RateLimits

PER_KEY, PER_PUBLISHER = 3, 5


@pytest.fixture
def limited(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[FlaskClient]:
    """A web app with small limits, on counters of its own."""
    assert settings.redis_url is not None
    client = redis_client(settings.redis_url)
    for key in client.scan_iter("licensecodes-rate*"):
        client.delete(key)
    app = create_app(
        dataclasses.replace(
            settings,
            api_calls_per_minute_per_key=PER_KEY,
            api_calls_per_minute_per_publisher=PER_PUBLISHER,
        )
    )
    yield app.test_client()


def calls(client: FlaskClient, key: str, count: int) -> list[int]:
    return [
        client.get("/api/v1/products", headers={"Authorization": f"Bearer {key}"}).status_code for _ in range(count)
    ]


def test_a_key_over_its_limit_gets_429_with_retry_after(limited: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("acme", (1234,))
    assert calls(limited, tenant.api_key, PER_KEY) == [200] * PER_KEY
    response = limited.get("/api/v1/products", headers=tenant.auth)
    message = assert_api_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert f"{response.headers['Retry-After']} s" in message


def test_the_keys_of_one_publisher_share_its_limit_and_others_are_not_slowed(
    limited: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session], settings: Settings
) -> None:
    acme, other = make_tenant("acme", (1234,)), make_tenant("other", (5678,))
    with sessions.begin() as session:
        second_key = create_api_key(session, publisher_named(session, "acme"), settings.secret_key)
    assert calls(limited, acme.api_key, PER_KEY) == [200] * PER_KEY
    assert calls(limited, second_key, PER_PUBLISHER - PER_KEY + 1) == [200] * (PER_PUBLISHER - PER_KEY) + [429]
    assert calls(limited, other.api_key, PER_KEY) == [200] * PER_KEY


def test_a_user_on_the_screens_counts_like_a_key_towards_the_same_publisher(
    limited: FlaskClient, make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1234,))
    assert post_login(limited, acme.email, acme.password).status_code == 302  # not signed in yet: not counted
    assert calls(limited, acme.api_key, PER_KEY) == [200] * PER_KEY
    pages = [limited.get("/products") for _ in range(PER_PUBLISHER - PER_KEY + 1)]
    assert [page.status_code for page in pages] == [200] * (PER_PUBLISHER - PER_KEY) + [429]
    refused = pages[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    text = refused.get_data(as_text=True)
    assert "Too many requests" in text and f"try again in {refused.headers['Retry-After']} s" in text
    # Static files are not calls: the page over the limit still has its style sheet.
    with limited.get("/static/style.css") as style:
        assert style.status_code == 200


def test_without_redis_the_api_still_responds() -> None:
    unreachable = RateLimits("redis://127.0.0.1:1/0", per_caller=1, per_publisher=1)
    started = time.monotonic()
    assert [unreachable.retry_after("key:prefix", 1) for _ in range(3)] == [None, None, None]
    assert time.monotonic() - started < 10
