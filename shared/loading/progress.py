"""How far the Code Generator has got through a request: the lines checked
so far and the share of the file read (docs/product.md#processing).

The worker counts without slowing the work down: the bytes by wrapping the
stored file's chunks (one addition a 1 MiB chunk), the lines by reading the
counts the CopyFeed and the ProblemLog keep anyway. The lease thread
(shared.loading.lease) reads both about once a second and writes them to the
request, in a transaction of its own, fenced by the claim; the
processing transaction never does. The web side turns the two columns into
what people read: lines checked and a percentage of the file's bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from shared.models import UploadRequest


class Progress:
    """Counts that one thread writes and another reads: plain ints, whose
    reads and writes the GIL keeps whole. A reading a moment old is fine."""

    def __init__(self) -> None:
        self._bytes_handed = 0
        self._through = False
        self._lines: Callable[[], int] = lambda: 0

    def counting(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The chunks, counted as they are handed to the reader."""
        for chunk in chunks:
            self._bytes_handed += len(chunk)
            yield chunk

    def lines_from(self, lines: Callable[[], int]) -> None:
        """Where the count of lines checked comes from while the file is
        read: cheap, and called from the lease thread."""
        self._lines = lines

    def read_through(self, lines: int) -> None:
        """Every line of the file is read and checked."""
        self._lines = lambda: lines
        self._through = True

    @property
    def lines(self) -> int:
        return self._lines()

    @property
    def bytes_read(self) -> int:
        """The bytes handed to the reader, one short until every line is
        read: the reader is still at work on the chunk it was handed last
        (a megabyte is some 30,000 CSV rows), and 100 % tells people that
        the reading is over and the storing has begun."""
        return self._bytes_handed if self._through else max(0, self._bytes_handed - 1)


@dataclass(frozen=True)
class Checked:
    """A processing request's progress as people are shown it."""

    lines: int
    percent: int  # of the file's bytes read; 100 while the last checks and the storing run


def checked_so_far(request: UploadRequest) -> Checked | None:
    """None unless the request is processing and the worker has said how far it got."""
    if not request.is_processing or request.lines_checked is None or request.bytes_checked is None:
        return None
    # Rounded down: 100 only once every byte has been read.
    percent = min(100, request.bytes_checked * 100 // max(request.size_bytes, 1))
    return Checked(request.lines_checked, percent)
