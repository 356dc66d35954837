"""How far a dump or a restore has got, in rows, read from PostgreSQL while
the program works: the rows of every COPY its session has run
(pg_stat_progress_copy), found by the session's application name. A table's
rows are counted when its COPY is seen; a table copied between two looks
is counted at the next table's start, from the total the caller knows."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine, text

_COPYING = text("""
SELECT p.relid, p.tuples_processed FROM pg_stat_progress_copy p
JOIN pg_stat_activity a ON a.pid = p.pid
WHERE a.application_name = :name
""")


class RowsWatch:
    """Calls `report(rows)` about every `seconds` while the block runs."""

    def __init__(self, engine: Engine, application_name: str, report: Callable[[int], None], seconds: float = 1.0):
        self._engine, self._name, self._report, self._seconds = engine, application_name, report, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._rows_of: dict[int, int] = {}

    def __enter__(self) -> RowsWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        with self._engine.connect() as connection:
            while not self._stop.wait(self._seconds):
                for row in connection.execute(_COPYING, {"name": self._name}).all():
                    relid, rows = int(row.relid), int(row.tuples_processed)
                    self._rows_of[relid] = max(rows, self._rows_of.get(relid, 0))
                connection.rollback()
                self._report(sum(self._rows_of.values()))
