"""Alembic environment: the engine comes from `shared.migrate` (the CLI and
the tests), or from the environment's settings when run as `alembic ...`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from shared.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    from shared.config import Settings
    from shared.db import make_engine
    from shared.services import connect

    settings = connect(Settings.from_env())
    assert settings.database_url is not None
    return make_engine(settings.database_url)


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `licensecodes db upgrade`")
run_migrations_online()
