"""The bridge from a reader to PostgreSQL's COPY: a file-like object that
psycopg2's `copy_expert` pulls from, turning good lines into rows of
shared.loading.staging.COPY and setting problems aside, so the file streams through
in bounded memory. A run of good TXT lines passes through as it came, as
one row: its first line's number, then its bytes between quotes."""

from __future__ import annotations

import heapq
import json
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

from shared.formats import CleanLines, CodeRecord, CsvRecord, Problem
from shared.states import MAX_LISTED_ERRORS

_NULL = "\\N"
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
READ_BYTES = 1024 * 1024  # what psycopg2 asks for at a time (copy_expert's size)


class ProblemLog:
    """Counts every problem, keeps the MAX_LISTED_ERRORS with the lowest line
    numbers whatever order they arrive in, and spools all of them as COPY
    rows for shared.loading.staging.COPY_PROBLEMS (the full error report). The spool
    is this worker's scratch space: in memory up to a megabyte, then a
    temporary file; it is never shared with another host."""

    def __init__(self, request_id: int) -> None:
        self.count = 0
        self._kept: list[tuple[int, int, Problem]] = []  # a max-heap on line, by negation
        self._request = f"{request_id}\t"
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)

    def add(self, problem: Problem) -> None:
        self.count += 1
        entry = (-problem.line, -self.count, problem)
        if len(self._kept) < MAX_LISTED_ERRORS:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:
            heapq.heapreplace(self._kept, entry)
        line, reason_code, message = problem
        self._spool.write(f"{self._request}{line}\t{reason_code}\t{_escaped(message)}\n".encode())

    def listed(self) -> list[Problem]:
        return [problem for _, _, problem in sorted(self._kept, reverse=True)]

    def rows(self) -> BinaryIO:
        """Every problem as COPY rows, from the start."""
        self._spool.seek(0)
        return cast(BinaryIO, self._spool)

    def close(self) -> None:
        self._spool.close()


class CopyFeed:
    """`read(size)` returns rows for shared.loading.staging.COPY of the
    records' format; a problem is set aside (every row carries its line
    number). `check_claim` is called before each block: it raises ClaimLost
    once this worker no longer holds the request, which ends the COPY."""

    def __init__(
        self,
        items: Iterator[CleanLines | CodeRecord | CsvRecord | Problem],
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
