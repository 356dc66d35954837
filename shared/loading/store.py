"""The set-based statements that store a staged file, or name why it cannot
be stored: the insert into the codes table, the duplicate queries, and a dry
run's summary. Each runs on the loader's psycopg2 cursor, inside the one
transaction of the run; the SQL itself is in shared.loading.staging."""

from __future__ import annotations

from typing import Any

import psycopg2.errors
from sqlalchemy.engine import Connection

from shared.formats import Problem
from shared.loading import staging
from shared.loading.feed import ProblemLog
from shared.loading.job import Job


def insert_codes(connection: Connection, cursor: Any, job: Job, problems: ProblemLog) -> None:
    """Insert every staged code; name the duplicates if the unique index
    refuses. The index has the last word when two batches race
    (docs/architecture.md#invariants-and-what-enforces-them)."""
    for _attempt in (1, 2):
        savepoint = connection.begin_nested()
        try:
            cursor.execute(staging.INSERT, job.parameters)
        except psycopg2.errors.UniqueViolation:
            savepoint.rollback()
            find_duplicates(cursor, job, problems)
            if problems.count:
                return
            continue  # the batch we collided with rolled back meanwhile: once more
        savepoint.commit()
        return
    raise RuntimeError(f"upload {job.request_id}: the insert kept colliding with no duplicate to name")


def find_duplicates(cursor: Any, job: Job, problems: ProblemLog) -> None:
    """In the file first; against the server only once the file itself is
    clean (docs/product.md#rejections)."""
    find_duplicates_in_file(cursor, problems)
    if not problems.count:
        _find_duplicates_on_server(cursor, job, problems)


def find_duplicates_in_file(cursor: Any, problems: ProblemLog) -> None:
    cursor.execute(staging.DUPLICATES_IN_FILE)
    for line, code, first_line in cursor:
        message = f"line {line}: the code {_quoted(code)} already appears on line {first_line}"
        problems.add(Problem(line, "duplicate_in_file", message))


def _find_duplicates_on_server(cursor: Any, job: Job, problems: ProblemLog) -> None:
    cursor.execute(staging.DUPLICATES_ON_SERVER, job.parameters)
    for line, code in cursor:
        # Never say whose: global uniqueness must not reveal another publisher's codes.
        message = f"line {line}: the code {_quoted(code)} already exists on the server"
        problems.add(Problem(line, "duplicate_existing", message))


def summary(cursor: Any, job: Job) -> dict[str, Any]:
    """A dry run's report (docs/product.md#dry-run)."""
    cursor.execute(staging.SUMMARY, job.parameters)
    return staging.summarize(cursor.fetchall())


def _quoted(code: str) -> str:
    return repr(code if len(code) <= 40 else code[:40] + "…")
