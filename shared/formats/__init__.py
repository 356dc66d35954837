"""The upload formats: readers that take the bytes of a file (as an iterable
of chunks, never the whole file) and yield a `CodeRecord` for each good line
and a `Problem` for each bad one. Each also has the loader's way in, where
what would cost an object a line comes in runs: the TXT reader's runs of
good lines as `CleanLines`, and both readers' runs of lines with the same
problem (blank lines, say) as one `ProblemRun`. Pure: no database, no
Flask, no Celery.

Checks that need the whole file or the server (a code twice in the file, a
code already stored, too many codes) belong to the loader
(`shared.loading`), which is the same for every format.
"""

from __future__ import annotations

from shared.formats.records import CleanLines, CodeRecord, CsvRecord, Problem, ProblemRun

__all__ = ["CleanLines", "CodeRecord", "CsvRecord", "Problem", "ProblemRun"]
