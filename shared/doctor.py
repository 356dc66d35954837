"""What an operator should know of a server that runs for years, and where
they should act (docs/operating.md#routine-maintenance): the database's
size by table, the rows dead and waiting for a vacuum, the oldest request
still undecided, the most overdue webhook delivery, the age of the last
backup, the disk's free space. Read from PostgreSQL's own statistics and a
few small tables: nothing here reads a code. `licensecodes doctor` prints
it; /metrics carries the figures."""

from __future__ import annotations

import dataclasses
import datetime
import shutil
from pathlib import Path

from sqlalchemy import Connection, text

from shared.queue_view import PENDING

# Past these, the doctor says what to do.
BACKUP_MAX_AGE = datetime.timedelta(days=2)
DEAD_SHARE = 0.2  # of a table's live rows
DEAD_ROWS = 100_000  # and at least this many: a small table's dead rows cost nothing
DISK_FREE_SHARE = 0.1
# A due webhook delivery is sent within a second or so; this late, nothing sends them.
DELIVERY_OVERDUE_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    total_bytes: int  # with its indexes and TOAST
    live_rows: int
    dead_rows: int
    last_vacuum: datetime.datetime | None  # by hand or by autovacuum


@dataclasses.dataclass(frozen=True)
class Disk:
    path: Path
    free_bytes: int
    total_bytes: int


@dataclasses.dataclass(frozen=True)
class Health:
    database_bytes: int
    tables: list[Table]  # the largest first
    oldest_pending_seconds: float | None  # None: nothing waits
    window_seconds: int
    last_backup_at: datetime.datetime | None
    now: datetime.datetime
    disk: Disk | None  # the data directory's disk, with embedded PostgreSQL; None otherwise
    # How long the most overdue pending webhook delivery has been due; None: none is due.
    oldest_due_delivery_seconds: float | None = None

    @property
    def last_backup_age(self) -> datetime.timedelta | None:
        return None if self.last_backup_at is None else self.now - self.last_backup_at


@dataclasses.dataclass(frozen=True)
class Advice:
    finding: str
    action: str


def examine(connection: Connection, window_seconds: int, data_dir: Path | None) -> Health:
    """`data_dir`: the embedded PostgreSQL's directory, whose disk is checked."""
    tables = [
        Table(row.name, int(row.total_bytes), int(row.live), int(row.dead), row.last_vacuum)
        for row in connection.execute(
            text("""
SELECT relname AS name, pg_total_relation_size(relid) AS total_bytes, n_live_tup AS live, n_dead_tup AS dead,
       greatest(last_vacuum, last_autovacuum) AS last_vacuum
FROM pg_stat_user_tables WHERE schemaname = 'public'
ORDER BY total_bytes DESC, name
""")
        )
    ]
    oldest = connection.execute(
        text(f"SELECT extract(epoch FROM now() - min(created_at)) FROM upload_requests WHERE {PENDING}")
    ).scalar()
    # The index of due deliveries (ix_webhook_deliveries_due) answers this.
    due = connection.execute(
        text(
            "SELECT extract(epoch FROM now() - min(next_attempt_at)) FROM webhook_deliveries "
            "WHERE status = 'pending' AND next_attempt_at <= now()"
        )
    ).scalar()
    last_backup = (
        connection.execute(text("SELECT max(taken_at) FROM backups_taken")).scalar()
        if connection.execute(text("SELECT to_regclass('backups_taken')")).scalar() is not None
        else None
    )
    disk = None
    if data_dir is not None and data_dir.exists():
        usage = shutil.disk_usage(data_dir)
        disk = Disk(data_dir, usage.free, usage.total)
    return Health(
        database_bytes=int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()),
        tables=tables,
        oldest_pending_seconds=None if oldest is None else float(oldest),
        window_seconds=window_seconds,
        last_backup_at=last_backup,
        now=connection.execute(text("SELECT now()")).scalar_one(),
        disk=disk,
        oldest_due_delivery_seconds=None if due is None else float(due),
    )


def advice(health: Health) -> list[Advice]:
    """Where the operator should act, each with what to do; none when all is well."""
    found = []
    age = health.last_backup_age
    if age is None:
        found.append(Advice("no backup has been taken", "schedule `licensecodes backup` daily"))
    elif age > BACKUP_MAX_AGE:
        found.append(Advice(f"the last backup is {_days(age)} old", "check the scheduled `licensecodes backup`"))
    if health.oldest_pending_seconds is not None and health.oldest_pending_seconds > health.window_seconds:
        found.append(
            Advice(
                f"a request has waited {health.oldest_pending_seconds / 60:,.0f} minutes, past the "
                f"{health.window_seconds // 60}-minute window",
                "check that the worker and beat run (the operator page lists them)",
            )
        )
    overdue = health.oldest_due_delivery_seconds
    if overdue is not None and overdue > DELIVERY_OVERDUE_SECONDS:
        found.append(
            Advice(
                f"a webhook delivery has been due for {overdue / 60:,.0f} minutes",
                "check that a worker serves the webhooks queue (serve's webhook-worker) and that beat runs",
            )
        )
    for table in health.tables:
        if table.dead_rows >= DEAD_ROWS and table.dead_rows > DEAD_SHARE * max(table.live_rows, 1):
            found.append(
                Advice(
                    f"{table.name} holds {table.dead_rows:,} dead rows beside {table.live_rows:,} live ones",
                    f"run `VACUUM (ANALYZE) {table.name}`, and check autovacuum is on",
                )
            )
    disk = health.disk
    if disk is not None and disk.free_bytes < DISK_FREE_SHARE * disk.total_bytes:
        found.append(
            Advice(
                f"the disk of {disk.path} has {size(disk.free_bytes)} free of {size(disk.total_bytes)}",
                "free space or move the data directory to a larger disk",
            )
        )
    return found


def _days(age: datetime.timedelta) -> str:
    return f"{age.total_seconds() / 86400:.1f} days"


def size(n: int) -> str:
    """A size as people read it (kB, MB, GB)."""
    value, unit = float(n), "bytes"
    for larger in ("kB", "MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
