"""The set-based statements that store a staged file, or name why it cannot
be stored: the insert into the codes table, the duplicate queries, and a dry
run's summary. Each runs on the loader's psycopg2 cursor, inside the one
transaction of the run; the SQL itself is in shared.loading.staging."""

from __future__ import annotations

from typing import Any

from shared.formats import Problem
from shared.loading import staging
from shared.loading.feed import ProblemLog
from shared.loading.foreign import ForeignDuplicates, existing_message, quoted
from shared.loading.job import Job


def insert_codes(cursor: Any, job: Job, problems: ProblemLog, foreign: ForeignDuplicates) -> None:
    """Insert every staged code, or none and name the duplicates when the
    unique index refuses one. The index has the last word when two batches
    race (docs/architecture.md#invariants-and-what-enforces-them): a code
    that meets another batch's uncommitted copy waits for that transaction,
    and is refused only if it commits. The refusal is caught in the
    database, never logged there (shared.loading.staging.INSERT)."""
    for _attempt in (1, 2):
        cursor.execute(staging.INSERT, job.parameters)
        cursor.execute(staging.INSERT_OUTCOME)
        if cursor.fetchone()[0] == "stored":
            return
        find_duplicates(cursor, job, problems, foreign)
        if problems.count or foreign.found:
            return
        # The batch we collided with is no longer there to name: once more.
    raise RuntimeError(f"upload {job.request_id}: the insert kept colliding with no duplicate to name")


def add_counts(cursor: Any, job: Job, stored: int) -> None:
    """Count the codes just stored (shared.loading.staging.ADD_COUNTS)."""
    cursor.execute(staging.ADD_COUNTS[job.format], job.parameters | {"stored": stored})


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
