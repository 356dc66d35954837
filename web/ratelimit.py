"""Rate limits on the API, per key and per publisher (several keys share
their publisher's), counted in Redis so that every web process and host
shares the counts. Over a limit: 429 with Retry-After, the seconds until the
window lets the next call through.

A sliding window counter (the `limits` library): two counters a window
rather than one entry a call, so 6,000 calls a minute cost Redis nothing.
When Redis cannot be reached the call goes through: a limit protects the
service, it must not take the API down with the broker (uploads are still
accepted during a Redis outage, RELIABILITY.md).
"""

from __future__ import annotations

import logging
import math
import time

import redis
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from shared.broker import redis_client

log = logging.getLogger(__name__)


class RateLimits:
    def __init__(self, redis_url: str, per_key: int, per_publisher: int) -> None:
        pool = redis_client(redis_url, timeout_seconds=0.5).connection_pool
        self._limiter = SlidingWindowCounterRateLimiter(
            RedisStorage("redis://", connection_pool=pool, key_prefix="licensecodes-rate")
        )
        self._per_key = RateLimitItemPerMinute(per_key)
        self._per_publisher = RateLimitItemPerMinute(per_publisher)

    def retry_after(self, key_prefix: str, publisher_id: int) -> int | None:
        """Count this call; None when it is within both limits, else the
        seconds to wait."""
        limits: tuple[tuple[RateLimitItem, str], ...] = (
            (self._per_key, f"key:{key_prefix}"),
            (self._per_publisher, f"publisher:{publisher_id}"),
        )
        try:
            for limit, who in limits:
                if not self._limiter.hit(limit, who):
                    reset_at = self._limiter.get_window_stats(limit, who).reset_time
                    return max(1, math.ceil(reset_at - time.time()))
        except redis.RedisError as error:
            log.warning("rate limits not counted, Redis is unavailable: %s", error)
        return None
