"""Taking a backup of the whole database while the service runs, and
restoring one into an empty database (docs/operating.md#backup-and-restore).

A backup is consistent: the manifest is read in a snapshot exported to
pg_dump, so the schema revision and the totals it names are those of the
rows dumped, whatever is uploaded or taken meanwhile. A request is in a
backup with all of its codes or none, since a request's codes and its
status are stored in one transaction.

A restore is one transaction (psql running pg_restore's script, committed
only once the script is whole), so a damaged dump or an error part way
restores nothing; with
`force` the same transaction first drops whatever the database held. Then
the schema is migrated to this code's revision."""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from shared.backup import archive, tools
from shared.backup.progress import RowsWatch
from shared.db import make_engine
from shared.errors import BackupError
from shared.migrate import alembic_config, upgrade

# Called with the rows done so far and about how many there are in all.
Progress = Callable[[int, int], None]
BACKUP_APPLICATION = "licensecodes-backup"
RESTORE_APPLICATION = "licensecodes-restore"
_FORCE = b"DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n"
# The script runs in one transaction, committed only once pg_restore has
# written all of it: a dump that cannot be read to its end restores nothing.
_BEGIN, _COMMIT = b"BEGIN;\n", b"COMMIT;\n"
_HEAD_BYTES = 64 * 1024  # the script's settings come first, before any table
_NO_TRANSACTION_TIMEOUT = b"SET transaction_timeout = 0;\n"
_TRANSACTION_TIMEOUT_SINCE = 170000


@dataclasses.dataclass(frozen=True)
class Restored:
    manifest: archive.Manifest
    secret_key: str  # the server's, when the backup was taken
    schema_revision: str  # after the migrations


def take_backup(database_url: str, secret_key: str, path: Path, progress: Progress | None = None) -> archive.Manifest:
    """Write a backup of the database at `database_url` to `path`."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                manifest = _manifest(connection)
                with archive.writing(path, manifest, secret_key) as out:
                    _dump(engine, database_url, snapshot, out, _of(progress, manifest))
        _note(engine, manifest, path.stat().st_size)
        return manifest
    finally:
        engine.dispose()


def _note(engine: Engine, manifest: archive.Manifest, size_bytes: int) -> None:
    """The backup in the database's record, for the doctor and /metrics (a
    database of a schema before the record has none)."""
    with engine.begin() as connection:
        if connection.execute(text("SELECT to_regclass('backups_taken')")).scalar() is None:
            return
        connection.execute(
            text("INSERT INTO backups_taken (schema_revision, size_bytes, codes) VALUES (:revision, :size, :codes)"),
            {"revision": manifest.schema_revision, "size": size_bytes, "codes": manifest.codes},
        )


def _manifest(connection: Connection) -> archive.Manifest:
    try:
        revision = str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    except ProgrammingError:
        raise BackupError("the database has no licensecodes schema to back up") from None
    return archive.Manifest(
        schema_revision=revision,
        created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        server_version=connection.execute(text("SHOW server_version")).scalar_one(),
        # The planner's row estimates, good enough for a progress bar; the codes exact, from their counts.
        rows=int(
            connection.execute(
                text(
                    "SELECT coalesce(sum(greatest(reltuples, 0)), 0) FROM pg_class "
                    "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
                )
            ).scalar_one()
        ),
        codes=int(connection.execute(text("SELECT coalesce(sum(codes), 0) FROM code_counts")).scalar_one()),
        requests=int(connection.execute(text("SELECT count(*) FROM upload_requests")).scalar_one()),
    )


def _dump(
    engine: Engine, database_url: str, snapshot: str, out: IO[bytes], progress: Callable[[int], None] | None
) -> None:
    command = [
        tools.program("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--snapshot={snapshot}",
        "--dbname",
        tools.libpq_url(database_url),
    ]
    with tempfile.TemporaryFile() as errors:
        dump = subprocess.Popen(command, stdout=out, stderr=errors, env=tools.environ(BACKUP_APPLICATION))
        _wait(engine, BACKUP_APPLICATION, progress, dump)
        _check("pg_dump", dump, errors)


def restore_backup(database_url: str, path: Path, *, force: bool = False, progress: Progress | None = None) -> Restored:
    """Restore the backup at `path` into the database at `database_url`,
    which must hold no tables unless `force`; then migrate it forward."""
    with archive.reading(path) as backup:
        _require_known(backup.manifest.schema_revision)
        engine = make_engine(database_url)
        try:
            _require_empty(engine, force)
            _restore(engine, database_url, backup, force, _of(progress, backup.manifest))
            upgrade(engine)
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))  # the planner's statistics are not in a dump
                revision = str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
        finally:
            engine.dispose()
    return Restored(backup.manifest, backup.secret_key, revision)


def _of(progress: Progress | None, manifest: archive.Manifest) -> Callable[[int], None] | None:
    return None if progress is None else (lambda rows: progress(rows, manifest.rows))


def _require_known(revision: str) -> None:
    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"the backup's schema revision {revision} is unknown to this licensecodes, "
            "which is older than the one that took it: restore it with that version or a newer one"
        )


def _require_empty(engine: Engine, force: bool) -> None:
    with engine.connect() as connection:
        tables = int(
            connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one()
        )
    if tables and not force:
        raise BackupError(
            f"the database is not empty (it holds {tables} tables): restore into an empty database, "
            "or add --force to replace everything in it with the backup"
        )


def _restore(
    engine: Engine, database_url: str, backup: archive.Backup, force: bool, progress: Callable[[int], None] | None
) -> None:
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as errors, backup.dump() as dump:
        script = subprocess.Popen(
            [tools.program("pg_restore"), "--no-owner", "--no-privileges", "--file=-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=script_errors,
        )
        load = subprocess.Popen(
            [
                tools.program("psql"),
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--dbname",
                tools.libpq_url(database_url),
                "--file=-",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=tools.environ(RESTORE_APPLICATION),
        )
        assert script.stdin and script.stdout and load.stdin
        pumps = [
            threading.Thread(target=_pump, args=(dump, script.stdin)),
            threading.Thread(target=_feed, args=(script, load, force, _server_version(engine))),
        ]
        for pump in pumps:
            pump.start()
        _wait(engine, RESTORE_APPLICATION, progress, load)
        if load.returncode:
            script.kill()  # nothing reads its script any more
        script.wait()
        for pump in pumps:
            pump.join()
        if script.returncode and load.returncode == -signal.SIGKILL:  # stopped by _feed: the script was cut short
            script_errors.seek(0)
            raise BackupError(
                f"{backup.path} could not be read: {_last_lines(script_errors.read())}; nothing was restored"
            )
        _check("the restore", load, errors, "; nothing was restored")


def _feed(script: subprocess.Popen[bytes], load: subprocess.Popen[bytes], force: bool, server_version: int) -> None:
    """pg_restore's script into psql, in a transaction committed only when
    the script is whole; otherwise psql is stopped and the transaction with it."""
    assert script.stdout and load.stdin
    try:
        load.stdin.write(_BEGIN + (_FORCE if force else b""))
        head = script.stdout.read(_HEAD_BYTES)
        if server_version < _TRANSACTION_TIMEOUT_SINCE:
            # The wheel's pg_restore (18) sets transaction_timeout in the
            # script's opening lines; a server before 17 knows no such setting.
            head = head.replace(_NO_TRANSACTION_TIMEOUT, b"", 1)
        load.stdin.write(head)
        shutil.copyfileobj(script.stdout, load.stdin, 1 << 20)
        if script.wait() == 0:
            load.stdin.write(_COMMIT)
        else:
            load.kill()
    except (BrokenPipeError, OSError):
        pass  # psql stopped: its exit status says why
    finally:
        try:
            load.stdin.close()
        except OSError:
            pass


def _server_version(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SHOW server_version_num")).scalar_one())


def _pump(source: IO[bytes], sink: IO[bytes]) -> None:
    try:
        shutil.copyfileobj(source, sink, 1 << 20)
    except (BrokenPipeError, OSError):
        pass  # the reader stopped: its exit status says why
    finally:
        try:
            sink.close()
        except OSError:
            pass


def _wait(
    engine: Engine, application: str, progress: Callable[[int], None] | None, process: subprocess.Popen[bytes]
) -> None:
    if progress is None:
        process.wait()
        return
    with RowsWatch(engine, application, progress):
        process.wait()


def _check(what: str, process: subprocess.Popen[bytes], errors: IO[bytes], then: str = "") -> None:
    if process.returncode:
        errors.seek(0)
        raise BackupError(f"{what} failed: {_last_lines(errors.read())}{then}")


def _last_lines(raw: bytes, count: int = 3) -> str:
    lines = [line for line in raw.decode(errors="replace").splitlines() if line.strip()]
    return " / ".join(lines[-count:]) or "no message"
