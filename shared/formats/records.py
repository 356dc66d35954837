"""What a reader yields: a good line's code, or a problem with a line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple


class CodeRecord(NamedTuple):
    """One valid line. A tuple, not an object: a million of them stream by."""

    line: int
    code: str
    expiry_days: int | None  # None: the product's default applies
    build_no: int | None
    seats: int | None


class CleanLines(NamedTuple):
    """A run of good TXT lines checked as one block, kept as the bytes they
    came in: the loader hands them to PostgreSQL untouched, so a million
    good lines cost no Python object each. Each line ends with CR LF and
    holds plain ASCII (shared.formats.txt says exactly which lines qualify)."""

    first_line: int
    line_count: int
    data: bytes


class CsvRecord(NamedTuple):
    """One valid CSV row: a code of one of the caller's products, with its
    own code type, and the row's other columns kept as attributes."""

    line: int  # the line the row starts on (the header is line 1)
    code: str
    product_id: int
    code_type: str  # "activation" or "evaluation"
    expiry_days: int | None
    seats: int | None
    attributes: dict[str, Any] | None


class Problem(NamedTuple):
    """Something wrong in the file, in words a publisher understands.

    `message` is a whole sentence that names the line ("line 7: ends with LF
    only; every line must end with CR LF"); `reason_code` is one of
    shared.models.REASON_CODES.
    """

    line: int
    reason_code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason_code": self.reason_code, "message": self.message}


class ProblemRun(NamedTuple):
    """The same problem on each line of a run of consecutive lines (a million
    blank lines, say): one item for the whole run, so that a hostile file
    costs no Python object a line. `why` is the message after "line N: "."""

    first_line: int
    line_count: int
    reason_code: str
    why: str

    def problem(self, line: int) -> Problem:
        return Problem(line, self.reason_code, f"line {line}: {self.why}")

    def problems(self) -> Iterator[Problem]:
        return (self.problem(line) for line in range(self.first_line, self.first_line + self.line_count))
