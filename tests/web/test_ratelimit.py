"""Rate limits (web.ratelimit): calls per key, per signed-in user and per
publisher, and failed logins per e-mail address; 429 with Retry-After once
over, counted in Redis across processes, and no outage of the API or the
login when Redis is gone."""

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
from tests.web.test_login import WRONG_LOGIN, is_logged_in, post_login
from web import create_app
from web.ratelimit import LOGIN_WINDOW_MINUTES, FailedLogins, RateLimits

PER_KEY, PER_PUBLISHER, FAILED_LOGINS = 3, 5, 4


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
            failed_logins_per_address=FAILED_LOGINS,
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


def test_failed_logins_for_one_address_are_refused_with_429_once_over_the_limit(
    limited: FlaskClient, make_tenant: Any
) -> None:
    acme, other = make_tenant("acme"), make_tenant("other")
    for _ in range(FAILED_LOGINS):
        wrong = post_login(limited, acme.email, "not-the-password")
        assert wrong.status_code == 401 and WRONG_LOGIN in wrong.get_data(as_text=True)
    # Now even the right password is not tried: a guesser cannot tell.
    refused = post_login(limited, acme.email.upper(), acme.password)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= LOGIN_WINDOW_MINUTES * 60
    assert "Too many failed logins for this e-mail address; try again in" in refused.get_data(as_text=True)
    assert not is_logged_in(limited)
    # Another address is not slowed, nor one no account has (counted alike).
    assert post_login(limited, other.email, other.password).status_code == 302


def test_a_successful_login_starts_the_count_again(limited: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    for _ in range(FAILED_LOGINS - 1):
        assert post_login(limited, acme.email, "not-the-password").status_code == 401
    assert post_login(limited, acme.email, acme.password).status_code == 302
    limited.delete_cookie("session")  # signed out
    for _ in range(FAILED_LOGINS - 1):
        assert post_login(limited, acme.email, "not-the-password").status_code == 401
    assert post_login(limited, acme.email, acme.password).status_code == 302


def test_an_address_no_account_has_is_counted_like_one_that_exists(limited: FlaskClient) -> None:
    statuses = [post_login(limited, "nobody@example.com", "guess").status_code for _ in range(FAILED_LOGINS + 1)]
    assert statuses == [401] * FAILED_LOGINS + [429]


def test_without_redis_the_api_and_the_login_still_respond() -> None:
    unreachable = RateLimits("redis://127.0.0.1:1/0", per_caller=1, per_publisher=1)
    logins = FailedLogins("redis://127.0.0.1:1/0", per_address=1)
    started = time.monotonic()
    assert [unreachable.retry_after("key:prefix", 1) for _ in range(3)] == [None, None, None]
    for _ in range(3):
        logins.failed("acme@example.com")
        assert logins.retry_after("acme@example.com") is None
    logins.succeeded("acme@example.com")
    assert time.monotonic() - started < 10
