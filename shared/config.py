"""The one settings object, read from the environment in one place.

Every process builds it once with `Settings.from_env()` and passes it on;
tests build their own. With `DATABASE_URL` and `REDIS_URL` unset, the URLs
stay None here and `shared.services.connect` fills them in from the
embedded servers of the data directory.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigError

SECRET_KEY_FILE = "secret_key"
LOG_FORMATS = ("json", "text")  # the first is the default
FOREIGN_DUPLICATES_PER_DAY = 1000
# When a failed webhook delivery is tried again, in seconds after each
# failure, the last repeated (docs/product.md#events-signed-webhooks).
WEBHOOK_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000)
WEBHOOK_GIVE_UP_SECONDS = 3 * 24 * 3600


@dataclass(frozen=True)
class WebhookSettings:
    """What the delivery of events may do (docs/operating.md#settings)."""

    # Private, loopback and other internal addresses allowed, and http to any host.
    allow_private_networks: bool
    # Hosts a webhook may reach over plain http (lower-cased names or addresses).
    http_hosts: frozenset[str]
    # The longest wait for an endpoint's answer, from the connection on.
    timeout_seconds: float
    retry_schedule: tuple[int, ...]
    # A delivery failing this long after its first try disables its endpoint.
    give_up_seconds: int
    # How often beat looks for deliveries that are due.
    poll_seconds: int
    # Finished deliveries, their attempts and messages are deleted this long after; 0 keeps them.
    log_retention_days: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        return cls(
            allow_private_networks=_bool(env, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", False),
            http_hosts=frozenset(h.strip().lower() for h in env.get("WEBHOOK_HTTP_HOSTS", "").split(",") if h.strip()),
            timeout_seconds=float(_int(env, "WEBHOOK_TIMEOUT_SECONDS", 10, low=1, high=60)),
            retry_schedule=_seconds_list(env, "WEBHOOK_RETRY_SCHEDULE", WEBHOOK_RETRY_SCHEDULE),
            give_up_seconds=_int(env, "WEBHOOK_GIVE_UP_SECONDS", WEBHOOK_GIVE_UP_SECONDS, low=1),
            poll_seconds=_int(env, "WEBHOOK_POLL_SECONDS", 1, low=1),
            log_retention_days=_int(env, "WEBHOOK_LOG_RETENTION_DAYS", 30, low=0),
        )


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    host: str
    port: int
    secret_key: str
    processing_window_minutes: int
    max_upload_mb: int
    # How long a worker's claim on a request lasts without renewal, and how
    # often beat sweeps; an operator rarely changes them, tests shorten them.
    lease_seconds: int
    sweep_interval_seconds: int
    # How often beat sends the check that releases the claims of workers
    # whose database session has gone (a worker killed), between sweeps.
    dead_claims_interval_seconds: int
    # How often beat expires reservations past their end and fills the
    # backorders that codes are there for (docs/operating.md#settings).
    pool_tend_seconds: int
    # A queued request whose wake-up message is older than this is published
    # again (the message may have been lost with Redis's memory).
    republish_after_seconds: int
    # API calls a minute, counted in Redis across every web process.
    api_calls_per_minute_per_key: int
    api_calls_per_minute_per_publisher: int
    # Password guessing (web/login_limits.py): failed logins a minute from
    # one client address; failures of one e-mail address before each further
    # one doubles the wait, up to the longest wait; argon2 verifications at
    # once in one web process; proxies in front whose X-Forwarded-For is
    # believed (0: the client address is the connection's).
    login_failures_per_address_per_minute: int
    login_free_failures_per_email: int
    login_max_wait_seconds: int
    login_hashes_at_once: int
    trusted_proxies: int
    # Served over HTTPS (behind a TLS proxy): cookies carry the Secure flag.
    secure_cookies: bool
    # When set, GET /metrics wants `Authorization: Bearer <token>`; unset, it
    # is open to whoever reaches the bind address (operators scrape from inside).
    metrics_token: str | None
    # Codes existing under another publisher that one publisher may be told
    # of in a UTC day: past it, rejections count them without naming them.
    foreign_duplicates_per_day: int
    # "json" (one JSON object a line, for log collectors) or "text" (for people).
    log_format: str
    webhooks: WebhookSettings
    # Days an uploaded file's bytes are kept once its request is decided; 0 keeps them forever.
    upload_retention_days: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        _refuse_retired(env)
        data_dir = Path(env.get("LICENSECODES_DATA_DIR") or "./var").resolve()
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            host=env.get("HOST") or "127.0.0.1",
            port=_int(env, "PORT", 8000, low=1, high=65535),
            secret_key=env.get("SECRET_KEY") or kept_secret_key(data_dir),
            processing_window_minutes=_int(env, "PROCESSING_WINDOW_MINUTES", 20, low=1),
            max_upload_mb=_int(env, "MAX_UPLOAD_MB", 100, low=1),
            lease_seconds=_int(env, "LEASE_SECONDS", 120, low=2),
            sweep_interval_seconds=_int(env, "SWEEP_INTERVAL_SECONDS", 60, low=1),
            dead_claims_interval_seconds=_int(env, "DEAD_CLAIMS_INTERVAL_SECONDS", 5, low=1),
            pool_tend_seconds=_int(env, "POOL_TEND_SECONDS", 20, low=1),
            republish_after_seconds=_int(env, "REPUBLISH_AFTER_SECONDS", 60, low=1),
            # A client polling every 20 ms makes 3,000 calls a minute.
            api_calls_per_minute_per_key=_int(env, "API_CALLS_PER_MINUTE_PER_KEY", 6000, low=1),
            api_calls_per_minute_per_publisher=_int(env, "API_CALLS_PER_MINUTE_PER_PUBLISHER", 12000, low=1),
            login_failures_per_address_per_minute=_int(env, "LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE", 20, low=1),
            login_free_failures_per_email=_int(env, "LOGIN_FREE_FAILURES_PER_EMAIL", 5, low=1),
            login_max_wait_seconds=_int(env, "LOGIN_MAX_WAIT_SECONDS", 300, low=1),
            login_hashes_at_once=_int(env, "LOGIN_HASHES_AT_ONCE", os.cpu_count() or 1, low=1),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, low=0),
            secure_cookies=_bool(env, "SECURE_COOKIES", False),
            metrics_token=(env.get("METRICS_TOKEN") or "").strip() or None,
            log_format=_choice(env, "LOG_FORMAT", LOG_FORMATS),
            foreign_duplicates_per_day=_int(env, "FOREIGN_DUPLICATES_PER_DAY", FOREIGN_DUPLICATES_PER_DAY, low=0),
            webhooks=WebhookSettings.from_env(env),
            upload_retention_days=_int(env, "UPLOAD_RETENTION_DAYS", 30, low=0),
        )

    @property
    def uses_embedded_services(self) -> bool:
        return self.database_url is None or self.redis_url is None

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def with_urls(self, database_url: str, redis_url: str) -> Settings:
        return dataclasses.replace(self, database_url=database_url, redis_url=redis_url)


# Variables that no longer mean anything, and what replaced them: an operator
# who set one must not believe it still holds.
_RETIRED = {
    "FAILED_LOGINS_PER_ADDRESS": "LOGIN_FREE_FAILURES_PER_EMAIL (and LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE)",
}


def _refuse_retired(env: Mapping[str, str]) -> None:
    for name, replacement in _RETIRED.items():
        if env.get(name):
            raise ConfigError(f"{name} is no longer read; use {replacement} (docs/operating.md#settings)")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{name} must be {bounds}, not {value}")
    return value


def _seconds_list(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be whole numbers of seconds separated by commas, not {raw!r}") from None
    if any(value < 1 for value in values):
        raise ConfigError(f"{name} must hold numbers of at least 1 second, not {raw!r}")
    return values


def kept_secret_key(data_dir: Path) -> str:
    """The secret key generated on first use and kept in the data directory,
    so sessions and API keys survive restarts without any setup."""
    path = data_dir / SECRET_KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when two processes start at once, exactly one writes the key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_secret(path)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        return _read_secret(path)
    except OSError as error:
        raise ConfigError(
            f"cannot keep the secret key in {data_dir} ({error.strerror}); "
            "set LICENSECODES_DATA_DIR to a writable directory, or set SECRET_KEY"
        ) from None


def replace_kept_secret_key(data_dir: Path, secret_key: str) -> Path:
    """Keep `secret_key` in the data directory in place of the one there (a
    restore brings the key its API keys were made with); answer its path."""
    path = data_dir / SECRET_KEY_FILE
    partial = path.with_name(SECRET_KEY_FILE + ".partial")
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret_key)
    os.replace(partial, path)
    return path


def _read_secret(path: Path) -> str:
    # The writer may not have finished when a racing reader arrives.
    for _ in range(100):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise ConfigError(f"{path} is empty; delete it to have a new secret key generated")
