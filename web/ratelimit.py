"""Rate limits, counted in Redis so that every web process and host shares
the counts:

- calls, per caller (an API key, or a user signed in on the screens) and per
  publisher (all its keys and users together); over a limit: 429 with
  Retry-After, the seconds until the window lets the next call through;
- failed logins are limited in web/login_limits.py, on the same counters.

Sliding window counters (the `limits` library): two counters a window rather
than one entry a call, so 6,000 calls a minute cost Redis nothing. When
Redis cannot be reached the call goes through: a limit protects the service,
it must not take the API down with the broker (uploads are still accepted
during a Redis outage: docs/architecture.md#failures-and-what-holds).
"""

from __future__ import annotations

import logging
import math
import time

import redis
from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from shared.broker import redis_client
from shared.config import Settings
from web.errors import error_page

log = logging.getLogger(__name__)

KEY_PREFIX = "licensecodes-rate"


def sliding_windows(client: redis.Redis, key_prefix: str = KEY_PREFIX) -> SlidingWindowCounterRateLimiter:
    """Sliding window counters on the connections of `client`."""
    storage = RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=key_prefix)
    return SlidingWindowCounterRateLimiter(storage)


def seconds_until(reset_time: float) -> int:
    """Retry-After for a window that lets the next call through at `reset_time`."""
    return max(1, math.ceil(reset_time - time.time()))


def _seconds_until_next(limiter: SlidingWindowCounterRateLimiter, limit: RateLimitItem, who: str) -> int:
    return seconds_until(limiter.get_window_stats(limit, who).reset_time)


class RateLimits:
    def __init__(self, redis_url: str, per_caller: int, per_publisher: int) -> None:
        self._limiter = sliding_windows(redis_client(redis_url, timeout_seconds=0.5))
        self._per_caller = RateLimitItemPerMinute(per_caller)
        self._per_publisher = RateLimitItemPerMinute(per_publisher)

    def retry_after(self, caller: str, publisher_id: int) -> int | None:
        """Count this call of `caller` ("key:<prefix>" or "user:<id>"); None
        when it is within both limits, else the seconds to wait."""
        limits: tuple[tuple[RateLimitItem, str], ...] = (
            (self._per_caller, caller),
            (self._per_publisher, f"publisher:{publisher_id}"),
        )
        try:
            for limit, who in limits:
                if not self._limiter.hit(limit, who):
                    return _seconds_until_next(self._limiter, limit, who)
        except redis.RedisError as error:
            log.warning("rate limits not counted, Redis is unavailable: %s", error)
        return None


def init_app(app: Flask, settings: Settings) -> None:
    assert settings.redis_url is not None
    app.extensions["licensecodes.rate_limits"] = RateLimits(
        settings.redis_url, settings.api_calls_per_minute_per_key, settings.api_calls_per_minute_per_publisher
    )
    app.before_request(_limit_screen_calls)


def _limit_screen_calls() -> ResponseReturnValue | None:
    """A user on the screens counts like an API key, towards the same
    publisher's limit (the API counts its own calls, by key)."""
    if request.blueprint == "api" or request.endpoint == "static" or not current_user.is_authenticated:
        return None
    wait = current_app.extensions["licensecodes.rate_limits"].retry_after(
        f"user:{current_user.id}", current_user.publisher_id
    )
    if wait is None:
        return None
    page, status = error_page("Too many requests", f"Too many requests in the last minute; try again in {wait} s.", 429)
    return page, status, {"Retry-After": str(wait)}
