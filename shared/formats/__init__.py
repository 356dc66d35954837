"""The upload formats: readers that take the bytes of a file (as an iterable
of chunks, never the whole file) and yield a `CodeRecord` for each good line
and a `Problem` for each bad one (the TXT reader also has a block mode, in
which runs of good lines come as `CleanLines`). Pure: no database, no Flask, no Celery.

Checks that need the whole file or the server (a code twice in the file, a
code already stored, too many codes) belong to the loader
(`shared.loading`), which is the same for every format.
"""

from __future__ import annotations

from shared.formats.records import CleanLines, CodeRecord, CsvRecord, Problem

__all__ = ["CleanLines", "CodeRecord", "CsvRecord", "Problem"]
