"""The bridge from a reader to PostgreSQL's COPY: a file-like object that
psycopg2's `copy_expert` pulls from, turning good lines into COPY text rows
and setting problems aside, so the file streams through in bounded memory."""

from __future__ import annotations

import heapq
import json
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

from shared.formats import CodeRecord, CsvRecord, Problem
from shared.states import MAX_LISTED_ERRORS

_NULL = "\\N"
SPOOL_IN_MEMORY_BYTES = 1024 * 1024


class ProblemLog:
    """Counts every problem, keeps the MAX_LISTED_ERRORS with the lowest line
    numbers whatever order they arrive in, and spools all of them as COPY
    rows for shared.staging.COPY_PROBLEMS (the full error report). The spool
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
    """`read(size)` answers COPY text rows in the column order of
    shared.staging.COPY for the record's format."""

    def __init__(
        self, items: Iterator[CodeRecord | CsvRecord | Problem], problems: ProblemLog, on_progress: Callable[[], None]
    ) -> None:
        self._items = items
        self._problems = problems
        self._on_progress = on_progress
        self.rows = 0

    def read(self, size: int = 65536) -> bytes:
        """The hot loop: a TXT row is formatted inline (no call per field);
        a million rows pass through here."""
        self._on_progress()
        parts: list[str] = []
        append = parts.append
        length = rows = 0
        for item in self._items:
            kind = type(item)
            if kind is CodeRecord:
                line, code, expiry, build, seats = cast(CodeRecord, item)
                if "\\" in code:
                    code = code.replace("\\", "\\\\")  # COPY's text format escapes the backslash
                row = (
                    f"{line}\t{code}\t{_NULL if expiry is None else expiry}\t"
                    f"{_NULL if build is None else build}\t{_NULL if seats is None else seats}\n"
                )
            elif kind is CsvRecord:
                row = _csv_row(item)  # type: ignore[arg-type]
            else:
                self._problems.add(item)  # type: ignore[arg-type]
                continue
            append(row)
            rows += 1
            length += len(row)
            if length >= size:
                break
        self.rows += rows
        return "".join(parts).encode()

    def readline(self, size: int = -1) -> bytes:  # psycopg2 asks for it; COPY never calls it
        raise NotImplementedError


def _csv_row(record: CsvRecord) -> str:
    line, code, product_id, code_type, expiry, seats, attributes = record
    document = _NULL if attributes is None else _escaped(json.dumps(attributes, ensure_ascii=False))
    return f"{line}\t{_escaped(code)}\t{product_id}\t{code_type}\t{_value(expiry)}\t{_value(seats)}\t{document}\n"


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
