"""The last hour's decisions, counted by /metrics and the operator page on
every scrape and every view, can be read through the partial index on
finished_at (migration 0012) rather than by scanning every request ever
made: each of those queries' conditions must imply the index's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from shared import metrics, queue_view

INDEX = "ix_upload_requests_decided_finished"


def statements_of(engine: Engine, connection: Connection, query: Callable[[Connection], Any]) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        query(connection)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


@pytest.mark.parametrize(
    "query",
    [queue_view.decisions_last_hour, queue_view.decisions_per_bucket, metrics._durations],
    ids=["decisions_last_hour", "decisions_per_bucket", "durations"],
)
def test_the_last_hours_decisions_can_use_the_index(engine: Engine, query: Callable[[Connection], Any]) -> None:
    with engine.connect() as connection:
        statements = statements_of(engine, connection, query)
        assert statements
        # An empty test table is cheapest to scan: forbid the scan, and take
        # the table's other plain indexes away inside this transaction (it
        # rolls back), so the plan shows whether this index can serve the
        # query at all, not which index an empty table makes cheapest.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        others = connection.scalars(
            text(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = 'upload_requests'::regclass AND NOT indisunique AND NOT indisprimary "
                "AND indexrelid::regclass::text <> :index"
            ),
            {"index": INDEX},
        ).all()
        for other in others:
            connection.execute(text(f'DROP INDEX "{other}"'))
        for statement in statements:
            plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {statement}")))
            assert INDEX in plan, plan
