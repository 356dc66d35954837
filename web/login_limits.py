"""Password guessing: who may try a password now, and how many argon2
verifications run at once (docs/operating.md#password-guessing).

Every check happens before the password is hashed, so a refused login costs
a few Redis commands, never argon2's CPU and memory. Three limits:

1. **Per client address** (`request.remote_addr`, the connection's address
   unless `TRUSTED_PROXIES` says how many proxies in front to believe):
   `LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE` failed logins in a sliding minute,
   whatever e-mail addresses they tried. Past it, every login from that
   address is refused with 429 until the window lets one through. This
   stops one client trying many accounts.

2. **Per e-mail address**, growing waits instead of a fixed lock: the first
   `LOGIN_FREE_FAILURES_PER_EMAIL` failures cost nothing; from then on each
   failure makes the next try wait 1 s, 2 s, 4 s ... up to
   `LOGIN_MAX_WAIT_SECONDS`, counted from the last failure. A try refused
   during a wait records no failure, so a flood does not push the wait
   further: one guesser gets about one guess per longest wait. The count is
   forgotten a day after the last failure, and at a successful login.

   The wait does not apply to a client address that has not failed for this
   e-mail in the last day: the rightful user, from their own address, still
   gets their password checked while a flood from elsewhere keeps the wait
   going. So that a guesser with many addresses cannot use that way in for
   many guesses, while the e-mail is waiting at most
   `LOGIN_FREE_FAILURES_PER_EMAIL` such failures an hour are allowed; past
   that everyone waits, at most `LOGIN_MAX_WAIT_SECONDS`. Either way nobody
   is kept out for long.

3. **Hashing at once**: a web process verifies at most
   `LOGIN_HASHES_AT_ONCE` passwords at a time; a login that finds no free
   slot within a tenth of a second is refused with 429 and `Retry-After: 1`
   at once, so a burst of logins cannot take the CPU from the API (API keys
   are HMACs and do not wait for a slot).

Limits 1 and 2 count an e-mail address whether or not an account has it,
and an unknown address is verified against a dummy hash, so the answers
tell nobody which accounts exist. The counters live in Redis, shared by
every web process and host, under digests rather than addresses. When
Redis cannot be reached, logins are not counted and go through (the
hashing bound still holds): a limit must not take the login down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from flask import Flask
from limits import RateLimitItemPerMinute

from shared.broker import redis_client
from shared.config import Settings
from web.ratelimit import KEY_PREFIX, seconds_until, sliding_windows

log = logging.getLogger(__name__)

LOGIN_LIMITS, HASHING_SLOTS = "licensecodes.login_limits", "licensecodes.hashing_slots"  # app.extensions
# A day without a failure and the e-mail starts afresh, as does the memory
# of which addresses have been failing for it.
FORGET_AFTER_SECONDS = 24 * 3600
# The window of the failures that skipped an e-mail's wait (limit 2).
SKIPPED_WAIT_WINDOW_MINUTES = 60
# How long a login waits for a hashing slot before it is refused: short, as
# a thread waiting here serves nobody else, yet enough for a login that
# arrives just as another's verification ends.
SLOT_WAIT_SECONDS = 0.1
BUSY_RETRY_SECONDS = 1


@dataclass(frozen=True)
class Refusal:
    """A login refused before its password was looked at."""

    seconds: int  # Retry-After
    message: str


BUSY = Refusal(BUSY_RETRY_SECONDS, f"The server is busy checking other logins; try again in {BUSY_RETRY_SECONDS} s.")


@dataclass(frozen=True)
class LoginCheck:
    refusal: Refusal | None
    # The e-mail was waiting, and this address was let through because it
    # had not been failing for it: a failure then counts towards limit 2's
    # hourly allowance.
    skipped_wait: bool = False


class LoginLimits:
    """Limits 1 and 2 of the module docstring, counted in Redis."""

    def __init__(self, redis_url: str, per_address_per_minute: int, free_failures: int, max_wait_seconds: int) -> None:
        self._redis = redis_client(redis_url, timeout_seconds=0.5)
        self._limiter = sliding_windows(self._redis, KEY_PREFIX)
        self._per_address = RateLimitItemPerMinute(per_address_per_minute)
        self._skipped_waits = RateLimitItemPerMinute(free_failures, SKIPPED_WAIT_WINDOW_MINUTES)
        self._free_failures = free_failures
        self._max_wait_seconds = max_wait_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        assert settings.redis_url is not None
        return cls(
            settings.redis_url,
            settings.login_failures_per_address_per_minute,
            settings.login_free_failures_per_email,
            settings.login_max_wait_seconds,
        )

    def wait_after(self, failures: int) -> int:
        """The seconds a try waits after the `failures`-th failure in a row."""
        if failures < self._free_failures:
            return 0
        doublings = min(failures - self._free_failures, self._max_wait_seconds.bit_length())
        return min(2**doublings, self._max_wait_seconds)

    def check(self, address: str, email: str) -> LoginCheck:
        """Whether a login from `address` for `email` may have its password checked now."""
        try:
            return self._over_address(address) or self._waiting(address, email)
        except redis.RedisError as error:
            log.warning("failed logins not checked, Redis is unavailable: %s", error)
            return LoginCheck(None)

    def failed(self, address: str, email: str, check: LoginCheck) -> None:
        keys = _Keys(address, email)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(keys.email, "failures", 1)
                pipe.hset(keys.email, "last", repr(time.time()))
                pipe.expire(keys.email, FORGET_AFTER_SECONDS)
                pipe.set(keys.pair, 1, ex=FORGET_AFTER_SECONDS)
                pipe.execute()
            self._limiter.hit(self._per_address, keys.address)
            if check.skipped_wait:
                self._limiter.hit(self._skipped_waits, keys.skipped_waits)
        except redis.RedisError as error:
            log.warning("a failed login not counted, Redis is unavailable: %s", error)

    def succeeded(self, address: str, email: str) -> None:
        """The e-mail starts afresh. The address's count stays: one account's
        own password must not wipe its address's guesses at other accounts."""
        keys = _Keys(address, email)
        try:
            self._redis.delete(keys.email, keys.pair)
            self._limiter.clear(self._skipped_waits, keys.skipped_waits)
        except redis.RedisError as error:
            log.warning("failed logins not cleared, Redis is unavailable: %s", error)

    def _over_address(self, address: str) -> LoginCheck | None:
        # One round trip for what test() and then the wait would take two:
        # this runs for every try of a flood.
        stats = self._limiter.get_window_stats(self._per_address, _Keys.of_address(address))
        if stats.remaining > 0:
            return None
        wait = seconds_until(stats.reset_time)
        return LoginCheck(Refusal(wait, f"Too many failed logins from your network address; try again in {wait} s."))

    def _waiting(self, address: str, email: str) -> LoginCheck:
        keys = _Keys(address, email)
        failures, last = self._redis.hmget(keys.email, ["failures", "last"])
        if failures is None or last is None:
            return LoginCheck(None)
        remaining = math.ceil(float(last) + self.wait_after(int(failures)) - time.time())
        if remaining <= 0:
            return LoginCheck(None)
        if not self._redis.exists(keys.pair) and self._limiter.test(self._skipped_waits, keys.skipped_waits):
            return LoginCheck(None, skipped_wait=True)
        message = f"Too many failed logins for this e-mail address; try again in {remaining} s."
        return LoginCheck(Refusal(remaining, message))


class _Keys:
    """The Redis keys of one login: digests, so that Redis holds neither
    e-mail nor network addresses."""

    def __init__(self, address: str, email: str) -> None:
        email_digest = _digest(email.strip().lower())
        self.address = self.of_address(address)
        self.email = f"{KEY_PREFIX}:login-email:{email_digest}"
        self.skipped_waits = f"login-skipped-wait:{email_digest}"  # a limiter's, which adds the prefix
        self.pair = f"{KEY_PREFIX}:login-pair:{_digest(address + ' ' + email_digest)}"

    @staticmethod
    def of_address(address: str) -> str:
        return f"login-address:{_digest(address)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class HashingSlots:
    """At most `count` password verifications at once in this process
    (limit 3 of the module docstring)."""

    def __init__(self, count: int) -> None:
        self._slots = threading.BoundedSemaphore(count)
        self._lock = threading.Lock()
        self.taken = 0  # slots taken since the start: one a verification

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """True with a slot held for the block; False, at once, when none is free."""
        if not self._slots.acquire(timeout=SLOT_WAIT_SECONDS):
            yield False
            return
        try:
            with self._lock:
                self.taken += 1
            yield True
        finally:
            self._slots.release()


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[LOGIN_LIMITS] = LoginLimits.from_settings(settings)
    app.extensions[HASHING_SLOTS] = HashingSlots(settings.login_hashes_at_once)
