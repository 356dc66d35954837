"""Engines and sessions. The caller owns the transaction:
`with sessions.begin() as session: ...`."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.errors import Conflict


def database_url(url: str) -> URL:
    """SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which we do
    not install; name psycopg2 whatever form the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def make_engine(url: str, application_name: str | None = None, **options: object) -> Engine:
    """`application_name`: how pg_stat_activity names the sessions (which
    process holds which)."""
    # Sessions in UTC: every time the API shows is ISO 8601 UTC.
    connect_args = {"options": "-c timezone=UTC"}
    if application_name is not None:
        connect_args["application_name"] = application_name
    return create_engine(database_url(url), pool_pre_ping=True, connect_args=connect_args, **options)


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def add_unique(session: Session, row: object, conflicts: Mapping[str, str | Exception]) -> None:
    """Insert `row` now, in a savepoint; when it breaks one of the unique
    constraints named in `conflicts`, raise Conflict with that message (or
    the exception given for it).

    The database decides, so two requests racing for the same name get one
    success and one Conflict, never an IntegrityError; the caller's
    transaction stays usable either way.
    """
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as error:
        constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
        if constraint in conflicts:
            conflict = conflicts[constraint]
            raise (conflict if isinstance(conflict, Exception) else Conflict(conflict)) from None
        raise
