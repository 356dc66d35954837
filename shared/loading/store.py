"""The set-based statements that store a staged file, or name why it cannot
be stored: the insert into the codes table, the duplicate queries, and a dry
run's summary. Each runs on the loader's psycopg2 cursor, inside the one
transaction of the run; the SQL itself is in shared.loading.staging."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from shared.formats import Problem
from shared.loading import staging
from shared.loading.feed import ProblemLog
from shared.loading.foreign import ForeignDuplicates, existing_message, quoted
from shared.loading.job import Job


def insert_codes(
    connection: Connection, cursor: Any, job: Job, staged: int, problems: ProblemLog, foreign: ForeignDuplicates
) -> None:
    """Insert every staged code; if some were not inserted, take the insert
    back and name the duplicates. The unique index has the last word when
    two batches race (docs/architecture.md#invariants-and-what-enforces-them).

    ON CONFLICT DO NOTHING, not a unique violation: PostgreSQL writes a
    violation to its own log with the code in its DETAIL line, and a code
    is a secret that no log may hold (docs/operating.md#logs). A row that
    meets another batch's uncommitted copy of its code waits for that
    transaction, as a plain insert would: if it commits, the row is skipped
    (and the duplicate query below, a new statement, sees the committed
    code); if it rolls back, the row goes in. So the race ends as before:
    exactly one batch stores a code, and the other is rejected."""
    savepoint = connection.begin_nested()
    cursor.execute(staging.INSERT, job.parameters)
    inserted = cursor.rowcount
    if inserted == staged:
        savepoint.commit()
        return
    savepoint.rollback()
    find_duplicates(cursor, job, problems, foreign)
    if not problems.count and not foreign.found:
        raise RuntimeError(
            f"upload {job.request_id}: {staged - inserted} codes were not inserted, with no duplicate to name"
        )


def find_duplicates(cursor: Any, job: Job, problems: ProblemLog, foreign: ForeignDuplicates) -> None:
    """In the file first; against the server only once the file itself is
    clean (docs/product.md#rejections)."""
    find_duplicates_in_file(cursor, problems)
    if not problems.count:
        _find_duplicates_on_server(cursor, job, problems, foreign)


def find_duplicates_in_file(cursor: Any, problems: ProblemLog) -> None:
    cursor.execute(staging.DUPLICATES_IN_FILE)
    for line, code, first_line in cursor:
        message = f"line {line}: the code {quoted(code)} already appears on line {first_line}"
        problems.add(Problem(line, "duplicate_in_file", message))


def _find_duplicates_on_server(cursor: Any, job: Job, problems: ProblemLog, foreign: ForeignDuplicates) -> None:
    """The publisher's own codes are named at once; another publisher's are
    set aside for the day's budget (shared.loading.foreign)."""
    cursor.execute(staging.DUPLICATES_ON_SERVER, job.parameters)
    for line, code, own in cursor:
        if own:
            problems.add(Problem(line, "duplicate_existing", existing_message(line, code)))
        else:
            foreign.add(line, code)


def summary(cursor: Any, job: Job) -> dict[str, Any]:
    """A dry run's report (docs/product.md#dry-run)."""
    cursor.execute(staging.SUMMARY, job.parameters)
    return staging.summarize(cursor.fetchall())
