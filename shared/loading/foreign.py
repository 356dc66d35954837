"""Codes of a file that exist under another publisher's products, and the
daily budget of how many of them a publisher is told
(docs/product.md#duplicates).

Codes are unique on the whole server, so naming a duplicate names a code
that exists: under another publisher, a valid license code it must not
learn by probing. The duplicate query sets these aside (`ForeignDuplicates`)
instead of logging them as problems; the rejection then spends the
publisher's budget for the UTC day (`name_within_budget`) and names only
what the budget allows, the rest in one problem that counts them without a
line or a code. The spending runs in the transaction that writes the
rejection, under the budget row's lock: two rejections of one publisher
decided at once spend it one after the other, and a worker that dies
before its commit has spent nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.formats import Problem
from shared.loading.feed import ProblemLog

log = logging.getLogger(__name__)

# The summary problem of the withheld codes names no line: it sorts first,
# and line 0 is the API's "the file as a whole".
WHOLE_FILE = 0

# The day is UTC's calendar day, as the database's clock tells it.
UTC_TODAY = "(now() AT TIME ZONE 'UTC')::date"

_ENSURE = f"""
INSERT INTO foreign_duplicate_budgets (publisher_id, day) VALUES (:publisher_id, {UTC_TODAY})
ON CONFLICT (publisher_id, day) DO NOTHING
"""

# The row lock is held to the commit: a second rejection of the same
# publisher waits here and then reads what the first one spent.
_LOCK = f"""
SELECT named FROM foreign_duplicate_budgets WHERE publisher_id = :publisher_id AND day = {UTC_TODAY} FOR UPDATE
"""

_SPEND = f"""
UPDATE foreign_duplicate_budgets
SET named = named + :named, withheld = withheld + :withheld, withheld_requests = withheld_requests + :refused
WHERE publisher_id = :publisher_id AND day = {UTC_TODAY}
"""


@dataclass
class ForeignDuplicates:
    """The foreign duplicates of one file: all of them counted, the first
    `keep` in line order kept (no more can ever be named in one day), so
    memory stays bounded whatever the file holds."""

    keep: int
    found: int = 0
    kept: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, code: str) -> None:
        self.found += 1
        if len(self.kept) < self.keep:
            self.kept.append((line, code))


@dataclass(frozen=True)
class Spent:
    named: int
    withheld: int


def name_within_budget(
    connection: Connection, publisher_id: int, foreign: ForeignDuplicates, problems: ProblemLog
) -> Spent:
    """Spend today's budget on as many foreign duplicates as it allows, in
    the caller's transaction; add a problem for each one named and one
    summary problem for the rest."""
    if not foreign.found:
        return Spent(0, 0)
    params = {"publisher_id": publisher_id}
    connection.execute(text(_ENSURE), params)
    already: int = connection.execute(text(_LOCK), params).scalar_one()
    named = min(len(foreign.kept), max(foreign.keep - already, 0))  # kept: the first found, at most keep
    withheld = foreign.found - named
    connection.execute(text(_SPEND), {**params, "named": named, "withheld": withheld, "refused": int(withheld > 0)})
    for line, code in foreign.kept[:named]:
        problems.add(Problem(line, "duplicate_existing", existing_message(line, code)))
    if withheld:
        problems.add(Problem(WHOLE_FILE, "duplicate_existing", withheld_message(withheld, foreign.keep)))
        log.warning(
            "publisher %s: %s codes of a file exist under another publisher and were not named; "
            "the day's limit of %s is used up",
            publisher_id, withheld, foreign.keep,
        )  # fmt: skip
    return Spent(named, withheld)


def existing_message(line: int, code: str) -> str:
    # Never say whose: the same words for the publisher's own codes and another's.
    return f"line {line}: the code {quoted(code)} already exists on the server"


def withheld_message(withheld: int, per_day: int) -> str:
    codes = "code" if withheld == 1 else "codes"
    exist = "exists" if withheld == 1 else "exist"
    return (
        f"{withheld:,} further {codes} of this file already {exist} on the server under another publisher's "
        f"products; they are not listed, as a publisher is told of at most {per_day:,} such codes a day (UTC). "
        "Check where the file's codes come from"
    )


def quoted(code: str) -> str:
    return repr(code if len(code) <= 40 else code[:40] + "…")
