"""Password guessing (web/login_limits.py), in-process on real Redis and
PostgreSQL: failed logins per client address and per e-mail address, the
growing waits that a clean address skips, and the bound on password hashing.
Every refusal comes before any hashing. The flood against a real server:
tests/e2e/test_login_flood.py."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from shared.broker import redis_client
from shared.config import Settings
from tests.web.test_login import WRONG_LOGIN, is_logged_in, post_login
from web import create_app
from web.login_limits import HASHING_SLOTS, LOGIN_LIMITS, HashingSlots, LoginCheck, LoginLimits
from web.ratelimit import KEY_PREFIX

PER_ADDRESS, FREE, MAX_WAIT, HASHES = 6, 3, 60, 2
ATTACKER, USER = "198.51.100.66", "203.0.113.7"


def fresh_counters(settings: Settings) -> None:
    assert settings.redis_url is not None
    client = redis_client(settings.redis_url)
    for key in client.scan_iter(f"{KEY_PREFIX}*"):
        client.delete(key)


@pytest.fixture
def guarded(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Flask]:
    """A web app with small login limits, on counters of its own."""
    fresh_counters(settings)
    yield create_app(
        dataclasses.replace(
            settings,
            login_failures_per_address_per_minute=PER_ADDRESS,
            login_free_failures_per_email=FREE,
            login_max_wait_seconds=MAX_WAIT,
            login_hashes_at_once=HASHES,
        )
    )
    fresh_counters(settings)


def client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def hashes(app: Flask) -> int:
    slots: HashingSlots = app.extensions[HASHING_SLOTS]
    return slots.taken


def test_a_flood_from_one_address_is_refused_with_429_before_any_password_is_hashed(guarded: Flask) -> None:
    flood = client_at(guarded, ATTACKER)
    before = hashes(guarded)
    responses = [post_login(flood, f"someone{n}@example.com", "guess") for n in range(PER_ADDRESS + 10)]
    assert [response.status_code for response in responses] == [401] * PER_ADDRESS + [429] * 10
    assert hashes(guarded) - before == PER_ADDRESS  # the 429s hashed nothing
    refused = responses[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert f"Too many failed logins from your network address; try again in {refused.headers['Retry-After']} s." in (
        refused.get_data(as_text=True)
    )
    # Another address is not slowed.
    assert post_login(client_at(guarded, USER), "nobody@example.com", "guess").status_code == 401


def test_with_every_hashing_slot_taken_a_login_is_refused_at_once_with_429(guarded: Flask, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    client = client_at(guarded, USER)
    slots: HashingSlots = guarded.extensions[HASHING_SLOTS]
    with ExitStack() as held:
        for _ in range(HASHES):
            assert held.enter_context(slots.slot())
        taken = slots.taken
        started = time.monotonic()
        busy = post_login(client, acme.email, acme.password)
        elapsed = time.monotonic() - started
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert "The server is busy checking other logins; try again in 1 s." in busy.get_data(as_text=True)
        assert slots.taken == taken  # refused before hashing
        assert elapsed < 5  # a verification takes a fraction of a second; waiting for a slot must not
        assert not is_logged_in(client)
    # A refusal for busyness is no failed login: the same password now works.
    assert post_login(client, acme.email, acme.password).status_code == 302


def test_an_unknown_address_costs_one_verification_and_counts_like_a_known_one(
    guarded: Flask, make_tenant: Any
) -> None:
    acme = make_tenant("acme")
    client = client_at(guarded, USER)
    for email in (acme.email, "nobody@example.com"):
        before = hashes(guarded)
        statuses = [post_login(client, email, "not-the-password").status_code for _ in range(FREE + 1)]
        assert statuses == [401] * FREE + [429], email
        assert hashes(guarded) - before == FREE, email


def test_the_wait_doubles_with_each_failure_after_the_free_ones_up_to_the_longest(settings: Settings) -> None:
    assert settings.redis_url is not None
    limits = LoginLimits(settings.redis_url, PER_ADDRESS, FREE, MAX_WAIT)
    assert [limits.wait_after(n) for n in range(FREE + 9)] == [0] * FREE + [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert limits.wait_after(10**6) == MAX_WAIT


def test_the_wait_an_email_is_refused_with_grows_with_its_failures(settings: Settings) -> None:
    assert settings.redis_url is not None
    fresh_counters(settings)
    limits = LoginLimits(settings.redis_url, 1000, FREE, MAX_WAIT)
    waits = []
    for _ in range(FREE + 4):
        limits.failed(ATTACKER, "acme@example.com", LoginCheck(None))
        refusal = limits.check(ATTACKER, "ACME@example.com ").refusal
        waits.append(None if refusal is None else refusal.seconds)
    # Each right after its failure: the full wait (rounded up from what is left of it).
    assert waits[: FREE - 1] == [None] * (FREE - 1)
    for wait, expected in zip(waits[FREE - 1 :], [1, 2, 4, 8, 16], strict=True):
        assert wait is not None and expected - 1 <= wait <= expected, waits


def test_eleven_wrong_passwords_no_longer_lock_the_user_out_for_a_quarter_of_an_hour(
    settings: Settings, make_tenant: Any
) -> None:
    fresh_counters(settings)
    # The default limits, but the address limit of the suite (every test logs in from one address).
    app = create_app(dataclasses.replace(settings, login_free_failures_per_email=5, login_max_wait_seconds=300))
    acme = make_tenant("acme")
    attacker = client_at(app, ATTACKER)
    statuses = [post_login(attacker, acme.email, "not-the-password").status_code for _ in range(11)]
    # Then waits of a second or two (a try refused during a wait does not lengthen it).
    assert statuses[:6] == [401] * 5 + [429] and set(statuses) == {401, 429}
    refused = post_login(attacker, acme.email, acme.password)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 8
    assert "Too many failed logins for this e-mail address; try again in" in refused.get_data(as_text=True)
    # The rightful user, from an address that has not been failing, at once.
    user = client_at(app, USER)
    assert post_login(user, acme.email, acme.password).status_code == 302
    assert is_logged_in(user)
    fresh_counters(settings)


def test_the_rightful_user_logs_in_from_another_address_during_a_flood_at_the_email(
    guarded: Flask, make_tenant: Any
) -> None:
    acme = make_tenant("acme")
    attacker, user = client_at(guarded, ATTACKER), client_at(guarded, USER)
    fail_in_a_row(guarded, ATTACKER, acme.email, FREE + 5)
    before = hashes(guarded)
    statuses = [post_login(attacker, acme.email, f"guess-{n}").status_code for n in range(20)]
    assert statuses == [429] * 20 and hashes(guarded) == before
    # Even the right password, from the flood's address.
    assert post_login(attacker, acme.email, acme.password).status_code == 429
    assert post_login(user, acme.email, acme.password).status_code == 302
    assert is_logged_in(user)


def test_an_address_that_failed_for_the_email_waits_like_the_others(guarded: Flask, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    user = client_at(guarded, USER)
    fail_in_a_row(guarded, ATTACKER, acme.email, FREE + 5)
    typo = post_login(user, acme.email, acme.password + "x")
    assert typo.status_code == 401 and WRONG_LOGIN in typo.get_data(as_text=True)
    assert post_login(user, acme.email, acme.password).status_code == 429


def test_many_addresses_skip_an_emails_wait_only_a_few_times_an_hour(guarded: Flask, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    fail_in_a_row(guarded, ATTACKER, acme.email, FREE + 5)
    botnet = [client_at(guarded, f"192.0.2.{n}") for n in range(1, FREE + 2)]
    statuses = [post_login(bot, acme.email, "not-the-password").status_code for bot in botnet]
    assert statuses == [401] * FREE + [429]


def test_a_successful_login_starts_the_count_again(guarded: Flask, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    client = client_at(guarded, USER)
    for _ in range(2):
        for _ in range(FREE - 1):
            assert post_login(client, acme.email, "not-the-password").status_code == 401
        assert post_login(client, acme.email, acme.password).status_code == 302
        client.delete_cookie("session")  # signed out


def test_without_redis_logins_are_not_counted_and_still_answered() -> None:
    unreachable = LoginLimits("redis://127.0.0.1:1/0", 1, 1, 1)
    started = time.monotonic()
    for _ in range(3):
        unreachable.failed(ATTACKER, "acme@example.com", LoginCheck(None))
        assert unreachable.check(ATTACKER, "acme@example.com") == LoginCheck(None)
    unreachable.succeeded(ATTACKER, "acme@example.com")
    assert time.monotonic() - started < 10


def fail_in_a_row(app: Flask, address: str, email: str, count: int) -> None:
    """Record `count` failures at once, as a flood over several seconds
    would: the e-mail then waits 2**(count - FREE) s, long enough for a test."""
    limits: LoginLimits = app.extensions[LOGIN_LIMITS]
    for _ in range(count):
        limits.failed(address, email, LoginCheck(None))


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_forwarded_address_is_believed_only_behind_as_many_proxies_as_configured(
    guarded: Flask, settings: Settings, proxies: int
) -> None:
    app = create_app(dataclasses.replace(settings, login_failures_per_address_per_minute=2, trusted_proxies=proxies))
    proxy = client_at(app, "10.0.0.1")
    statuses = []
    for client_address in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
        proxy.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        statuses.append(post_login(proxy, "nobody@example.com", "guess").status_code)
    # Behind a proxy each client has its own limit; without, the one connection's address counts.
    assert statuses == ([401, 401, 401] if proxies else [401, 401, 429])
