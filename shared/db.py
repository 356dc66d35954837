"""Engines and sessions. The caller owns the transaction:
`with sessions.begin() as session: ...`."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker


def database_url(url: str) -> URL:
    """SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which we do
    not install; name psycopg2 whatever form the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def make_engine(url: str, **options: object) -> Engine:
    # Sessions in UTC: every time the API shows is ISO 8601 UTC.
    return create_engine(
        database_url(url), pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"}, **options
    )


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
