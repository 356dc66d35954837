"""The bridge from a reader to PostgreSQL's COPY: a file-like object that
psycopg2's `copy_expert` pulls from, turning good lines into COPY text rows
and setting problems aside, so the file streams through in bounded memory."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from shared.formats import CodeRecord, Problem
from shared.states import MAX_LISTED_ERRORS

_NULL = "\\N"


class ProblemLog:
    """Counts every problem and keeps the MAX_LISTED_ERRORS with the lowest
    line numbers, whatever order they arrive in."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[tuple[int, int, Problem]] = []  # a max-heap on line, by negation

    def add(self, problem: Problem) -> None:
        self.count += 1
        entry = (-problem.line, -self.count, problem)
        if len(self._kept) < MAX_LISTED_ERRORS:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:
            heapq.heapreplace(self._kept, entry)

    def listed(self) -> list[Problem]:
        return [problem for _, _, problem in sorted(self._kept, reverse=True)]


class CopyFeed:
    """`read(size)` answers COPY text rows `line, code, expiry, build, seats`."""

    def __init__(
        self, items: Iterator[CodeRecord | Problem], problems: ProblemLog, on_progress: Callable[[], None]
    ) -> None:
        self._items = items
        self._problems = problems
        self._on_progress = on_progress
        self.rows = 0

    def read(self, size: int = 65536) -> bytes:
        self._on_progress()
        parts: list[str] = []
        length = 0
        for item in self._items:
            if type(item) is CodeRecord:
                row = _row(item)
                parts.append(row)
                length += len(row)
                self.rows += 1
                if length >= size:
                    break
            else:
                self._problems.add(item)  # type: ignore[arg-type]
        return "".join(parts).encode()

    def readline(self, size: int = -1) -> bytes:  # psycopg2 asks for it; COPY never calls it
        raise NotImplementedError


def _row(record: CodeRecord) -> str:
    line, code, expiry, build, seats = record
    if "\\" in code:
        code = code.replace("\\", "\\\\")  # COPY text format escapes backslashes
    return (
        f"{line}\t{code}\t{_NULL if expiry is None else expiry}\t"
        f"{_NULL if build is None else build}\t{_NULL if seats is None else seats}\n"
    )
