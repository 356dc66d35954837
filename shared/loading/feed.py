"""The bridge from a reader to PostgreSQL's COPY: a file-like object that
psycopg2's `copy_expert` pulls from, turning good lines into rows of
shared.loading.staging.COPY and setting problems aside, so the file streams through
in bounded memory. A run of good TXT lines passes through as it came, as
one row: its first line's number, then its bytes between quotes."""

from __future__ import annotations

import heapq
import io
import json
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

from shared.formats import CleanLines, CodeRecord, CsvRecord, Problem, ProblemRun
from shared.models import MAX_REPORTED_PROBLEMS
from shared.states import MAX_LISTED_ERRORS

_NULL = "\\N"
READ_BYTES = 1024 * 1024  # what psycopg2 asks for at a time (copy_expert's size)


class ProblemLog:
    """Counts every problem and keeps the MAX_REPORTED_PROBLEMS with the
    lowest line numbers, whatever order they arrive in: the request lists
    the first MAX_LISTED_ERRORS of them and the full error report stores
    them all (docs/product.md#what-a-rejected-request-says). Problems come
    in line order but for those found after the reading (duplicates, named
    by the database), so a kept problem may still give way to a later one
    with a lower line. What is kept is bounded whatever the file holds: a
    file of two million bad lines costs a count, not two million rows."""

    def __init__(self, request_id: int) -> None:
        self.count = 0
        # A max-heap on the line, by negation: its top is the highest line
        # kept, the first to go. The arrival count breaks ties (never the
        # Problem itself).
        self._kept: list[tuple[int, int, Problem]] = []
        self._request = f"{request_id}\t"

    def add(self, problem: Problem) -> None:
        self.count += 1
        entry = (-problem.line, -self.count, problem)
        if len(self._kept) < MAX_REPORTED_PROBLEMS:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:
            heapq.heapreplace(self._kept, entry)

    def add_run(self, run: ProblemRun) -> None:
        """Every line of the run counted; a Problem made only for the lines
        that would be kept, which, the lines rising, stop at the first that
        would not."""
        end = run.first_line + run.line_count
        line = run.first_line
        while line < end and (len(self._kept) < MAX_REPORTED_PROBLEMS or line < -self._kept[0][0]):
            self.add(run.problem(line))
            line += 1
        self.count += end - line

    @property
    def not_kept(self) -> int:
        return self.count - len(self._kept)

    def listed(self) -> list[Problem]:
        """The first MAX_LISTED_ERRORS by line, for the request itself."""
        return [problem for _, _, problem in heapq.nlargest(MAX_LISTED_ERRORS, self._kept)]

    def rows(self) -> BinaryIO:
        """The kept problems as COPY rows for shared.loading.staging.COPY_PROBLEMS."""
        rows = (
            f"{self._request}{line}\t{reason_code}\t{_escaped(message)}\n"
            for _, _, (line, reason_code, message) in sorted(self._kept, reverse=True)
        )
        return io.BytesIO("".join(rows).encode())

    def close(self) -> None:
        self._kept = []


class CopyFeed:
    """`read(size)` returns rows for shared.loading.staging.COPY of the
    records' format; a problem is set aside (every row carries its line
    number). `check_claim` is called before each block: it raises ClaimLost
    once this worker no longer holds the request, which ends the COPY."""

    def __init__(
        self,
        items: Iterator[CleanLines | CodeRecord | CsvRecord | Problem | ProblemRun],
        problems: ProblemLog,
        check_claim: Callable[[], None],
    ) -> None:
        self._items = items
        self._problems = problems
        self._check_claim = check_claim
        self.rows = 0  # good lines passed on

    def read(self, size: int = READ_BYTES) -> bytes:
        """The hot loop: a block of good lines is one item; other lines
        come one by one, a minority."""
        self._check_claim()
        parts: list[bytes] = []
        append = parts.append
        length = rows = 0
        for item in self._items:  # `length` counts the lines, not the few bytes around them
            kind = type(item)
            if kind is CleanLines:
                block = cast(CleanLines, item)
                parts.extend(_block_row(block.first_line, block.data))
                length += len(block.data)
                rows += block.line_count
            elif kind is CodeRecord:
                record = cast(CodeRecord, item)
                line = _txt_line(record)
                parts.extend(_block_row(record.line, line))
                length += len(line)
                rows += 1
            elif kind is CsvRecord:
                row = _csv_row(item)  # type: ignore[arg-type]
                append(row)
                length += len(row)
                rows += 1
            elif kind is ProblemRun:
                self._problems.add_run(item)  # type: ignore[arg-type]
                continue
            else:
                self._problems.add(item)  # type: ignore[arg-type]
                continue
            if length >= size:
                break
        self.rows += rows
        return b"".join(parts)

    def readline(self, size: int = -1) -> bytes:  # psycopg2 asks for it; COPY never calls it
        raise NotImplementedError


def _block_row(first_line: int, lines: bytes) -> tuple[bytes, bytes, bytes]:
    """A TXT row of shared.loading.staging.COPY, in three parts so that a block's
    bytes are never copied here: the first line's number, DELIMITER, QUOTE;
    the lines; QUOTE, end of row."""
    return b"%d\x1f\x1e" % first_line, lines, b"\x1e\n"


def _txt_line(record: CodeRecord) -> bytes:
    """A good line that the block path left to the rule book, written again
    as a plain line (staged as a block of one): its ProductID left out
    (checked already), the numbers without leading zeros, the code in UTF-8
    (the database's encoding; the rule book lets no control character into a
    code, so no quote of the COPY either)."""
    _, code, expiry, build, seats = record
    return f"\t{code}\t{_field(expiry)}\t{_field(build)}\t{_field(seats)}\r\n".encode()


def _field(number: int | None) -> str:
    return "" if number is None else str(number)


def _csv_row(record: CsvRecord) -> bytes:
    line, code, product_id, code_type, expiry, seats, attributes = record
    document = _NULL if attributes is None else _escaped(json.dumps(attributes, ensure_ascii=False))
    row = f"{line}\t{_escaped(code)}\t{product_id}\t{code_type}\t{_value(expiry)}\t{_value(seats)}\t{document}\n"
    return row.encode()


def _value(number: int | None) -> str:
    return _NULL if number is None else str(number)


def _escaped(text: str) -> str:
    """COPY's text format: a backslash, TAB, CR or LF in a value is escaped.
    (Codes hold none of the last three, and json.dumps escapes them itself.)"""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
