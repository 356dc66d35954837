"""Helpers of the backup tests: new databases on the test session's server
(embedded or external), `licensecodes backup` and `restore` run as real
processes against them, and what a database holds, table by table."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.config import Settings
from shared.db import make_engine
from tests.conftest import test_environ


@contextlib.contextmanager
def new_database(settings: Settings) -> Iterator[str]:
    """The URL of a new, empty database beside the session's, dropped after."""
    assert settings.database_url is not None
    session_url = make_url(settings.database_url)
    name = f"restore_{uuid.uuid4().hex[:12]}_test"
    admin = make_engine(session_url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield session_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def licensecodes(settings: Settings, database_url: str, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`licensecodes ARGS` as a real process on the database at `database_url`
    (and the session's Redis, so that no command starts one of its own)."""
    assert settings.redis_url is not None
    return subprocess.run(
        [sys.executable, "-m", "web", *args],
        env=test_environ(DATABASE_URL=database_url, REDIS_URL=settings.redis_url, **environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def rows_by_table(database_url: str) -> dict[str, int]:
    """Every table of the schema and its rows, counted."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            ).scalars()
            return {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one() for table in tables}
    finally:
        engine.dispose()
