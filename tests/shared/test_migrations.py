"""The migrations are the one way the schema is built (the `engine` fixture
runs them); they must form one line of history and build exactly what the
models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Engine, inspect

from shared.migrate import alembic_config
from shared.models import Base


def test_the_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_the_migrated_database_is_at_the_head(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config())

    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (script.get_current_head(),)


def test_the_migrations_build_what_the_models_describe(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_the_migrations_create_every_check_constraint_of_the_models(engine: Engine) -> None:
    # Autogenerate does not compare CHECK constraints; their names do.
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        in_models = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        in_database = {c["name"] for c in inspector.get_check_constraints(table.name)}

        assert in_database == in_models, table.name


def test_uploaded_bytes_are_stored_uncompressed(engine: Engine) -> None:
    # Autogenerate does not compare a column's storage either.
    with engine.connect() as connection:
        storage = connection.exec_driver_sql(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'upload_chunks'::regclass AND attname = 'data'"
        ).scalar_one()

    assert storage == "e"  # EXTERNAL: out of line, never compressed
