"""`licensecodes backup` and `restore` as real processes, on databases of the
test session's server (docs/operating.md#backup-and-restore): a backup
restores every row and the secret key into an empty database, an older
schema restores and is migrated, and bad input changes nothing.

A backup taken while clients upload and read is in
tests/pipeline/test_backup.py."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.backup import archive
from shared.config import SECRET_KEY_FILE, Settings
from shared.db import make_engine
from shared.migrate import upgrade
from tests.backups import licensecodes, new_database, rows_by_table
from tests.conftest import Tenant
from tests.pool.conftest import stock_pool


def _some_rows(sessions: sessionmaker[Session], make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1, 2))
    stock_pool(sessions, 1, 500)
    stock_pool(sessions, 2, 20, code_type="evaluation")
    return tenant


def _head(database_url: str) -> str:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def test_a_backup_restores_every_row_and_the_secret_key_into_an_empty_database(
    settings: Settings, sessions: sessionmaker[Session], make_tenant: Any, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    _some_rows(sessions, make_tenant)
    backup = tmp_path / "licensecodes.backup"
    taken = licensecodes(settings, settings.database_url, "backup", str(backup), SECRET_KEY="the-backups-secret")
    assert taken.returncode == 0, taken.stderr
    assert "520 codes" in taken.stdout and backup.stat().st_mode & 0o077 == 0  # its owner's alone
    data_dir = tmp_path / "restored"
    with new_database(settings) as target:
        restored = licensecodes(settings, target, "restore", str(backup), LICENSECODES_DATA_DIR=str(data_dir))
        assert restored.returncode == 0, restored.stderr
        assert rows_by_table(target) == rows_by_table(settings.database_url)
        assert _head(target) == _head(settings.database_url)
    # The API keys of the backup were signed with its secret: it came along.
    assert (data_dir / SECRET_KEY_FILE).read_text() == "the-backups-secret"
    assert "520 codes" in restored.stdout


def test_a_restore_with_another_secret_key_set_says_how_to_carry_the_backups_across(
    settings: Settings, sessions: sessionmaker[Session], make_tenant: Any, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    _some_rows(sessions, make_tenant)
    backup = tmp_path / "b"
    assert licensecodes(settings, settings.database_url, "backup", str(backup), SECRET_KEY="one").returncode == 0
    with new_database(settings) as target:
        restored = licensecodes(settings, target, "restore", str(backup), SECRET_KEY="two")
    assert restored.returncode == 0, restored.stderr
    assert "SECRET_KEY differs from the secret key of the backup" in restored.stderr
    assert f"tar -xOf {backup} secret_key" in restored.stderr


def test_a_backup_of_an_older_schema_is_restored_and_migrated_forward(settings: Settings, tmp_path: Path) -> None:
    backup = tmp_path / "old.backup"
    with new_database(settings) as source:
        engine = make_engine(source)
        try:
            upgrade(engine, "0016")
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO publishers (name) VALUES ('old')"))
                connection.execute(
                    text(
                        "INSERT INTO products (product_id, publisher_id, short_code, name, activation_expiry_days, "
                        "evaluation_expiry_days) SELECT 7, id, 'OLD', 'Old product', 365, 30 FROM publishers"
                    )
                )
        finally:
            engine.dispose()
        assert licensecodes(settings, source, "backup", str(backup)).returncode == 0
    with archive.reading(backup) as opened:
        assert opened.manifest.schema_revision == "0016"
    with new_database(settings) as target:
        restored = licensecodes(settings, target, "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        assert _head(target) == _head(settings.database_url) != "0016"
        assert "schema 0016, migrated to" in restored.stdout
        engine = make_engine(target)
        try:
            with engine.connect() as connection:
                name = connection.execute(text("SELECT name FROM products WHERE product_id = 7")).scalar()
                assert name == "Old product"
                # A column of a later migration.
                columns = connection.execute(
                    text("SELECT column_name FROM information_schema.columns WHERE table_name = 'upload_requests'")
                ).scalars()
                assert "product_rules" in set(columns)
        finally:
            engine.dispose()


def _damaged(backup: Path, tmp_path: Path) -> Path:
    """The same backup with bytes in the middle of its dump overwritten: a whole tar, a broken dump."""
    with tarfile.open(backup) as tar:
        member = tar.getmember(archive.DUMP)
    data = bytearray(backup.read_bytes())
    middle = member.offset_data + member.size // 2
    data[middle : middle + 64] = b"\xff" * 64
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(bytes(data))
    return damaged


def test_bad_input_to_restore_gets_a_clear_message_and_changes_nothing(
    settings: Settings, sessions: sessionmaker[Session], make_tenant: Any, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    _some_rows(sessions, make_tenant)
    backup = tmp_path / "good.backup"
    assert licensecodes(settings, settings.database_url, "backup", str(backup)).returncode == 0
    cut = tmp_path / "cut.backup"
    cut.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"not a backup\n" * 100)
    cases = {
        tmp_path / "missing.backup": "there is no backup file",
        garbage: "is not a licensecodes backup",
        cut: "cut short",
        _damaged(backup, tmp_path): "nothing was restored",
    }
    with new_database(settings) as target:
        for path, message in cases.items():
            refused = licensecodes(settings, target, "restore", str(path))
            assert (refused.returncode, message in refused.stderr) == (1, True), (path, refused.stderr)
            assert "Traceback" not in refused.stderr
            assert rows_by_table(target) == {}  # not one table
        # A database that is not empty is refused, and kept, unless --force.
        assert licensecodes(settings, target, "restore", str(backup)).returncode == 0
        with make_engine(target).begin() as connection:
            connection.execute(text("DELETE FROM license_codes WHERE product_id = 2"))
        before = rows_by_table(target)
        refused = licensecodes(settings, target, "restore", str(backup))
        assert refused.returncode == 1 and "the database is not empty" in refused.stderr
        assert rows_by_table(target) == before
        # A damaged backup with --force leaves the database as it was, too.
        assert licensecodes(settings, target, "restore", "--force", str(_damaged(backup, tmp_path))).returncode == 1
        assert rows_by_table(target) == before
        assert licensecodes(settings, target, "restore", "--force", str(backup)).returncode == 0
        assert rows_by_table(target) == rows_by_table(settings.database_url)


def test_a_backup_of_a_database_without_the_schema_is_refused(settings: Settings, tmp_path: Path) -> None:
    with new_database(settings) as empty:
        refused = licensecodes(settings, empty, "backup", str(tmp_path / "b"))
    assert refused.returncode == 1 and "no licensecodes schema" in refused.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()
