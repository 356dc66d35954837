"""The benchmark's own logic. The scale mode (bench/README.md#the-scale-mode)
against the schema and the API it measures: the requests it copies in SQL
must leave the rows the real path would, and a deep read must ask for the
same place whether the server pages by cursor or by page number. The takes
(bench/README.md#takes): how their figures are taken, and the check that
no code went out twice. The webhooks' figures (bench/README.md#webhooks)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import UniqueConstraint

from bench.cpu import used_between
from bench.fill import COPIED_WITH_A_REQUEST, NOT_COPIED
from bench.reads import Read, percentile, position_at, url
from bench.takers import Outcome, failure_reason
from bench.takes import PICK, hand_outs, summary
from bench.webhooks import latency_figures, print_latency, rate_figures
from shared.models import Base, UploadRequest
from shared.pool import picking


def test_a_copied_request_repeats_no_column_that_must_be_unique() -> None:
    table = UploadRequest.__table__
    unique = [{c.name for c in table.primary_key.columns}]
    unique += [{c.name for c in constraint.columns} for constraint in table.constraints
               if isinstance(constraint, UniqueConstraint)]  # fmt: skip
    unique += [{c.name for c in index.columns} for index in table.indexes if index.unique]
    unique += [{column.name} for column in table.columns if column.unique]
    assert all(columns & set(NOT_COPIED) for columns in unique), unique


def test_every_table_of_a_requests_own_rows_is_copied_with_it() -> None:
    pointing = {
        key.parent.table.name
        for table in Base.metadata.tables.values()
        for key in table.foreign_keys
        if key.column.table is UploadRequest.__table__ and key.parent.table is not UploadRequest.__table__
    }
    assert pointing == set(COPIED_WITH_A_REQUEST)


def test_a_deep_read_asks_by_cursor_or_by_the_page_that_starts_at_the_same_code() -> None:
    read = Read("codes API", "deep", "/api/v1/products/7/codes", {"status": "available"}, position_at(1_000_000, "K9"))
    assert url(read, cursors=True) == "/api/v1/products/7/codes?status=available&after=K9"
    assert url(read, cursors=False) == "/api/v1/products/7/codes?status=available&page=20001"


def test_a_deep_read_no_page_number_reaches_is_not_asked_of_a_server_without_cursors() -> None:
    read = Read("Code View", "deep", "/products/7/codes", position=position_at(12, "A B"))
    assert url(read, cursors=True) == "/products/7/codes?after=A+B"
    assert url(read, cursors=False) is None


def test_a_percentile_is_the_value_at_its_rank_among_the_sorted_values() -> None:
    values = [float(n) for n in range(100, 0, -1)]  # 100 down to 1
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7
    assert percentile([3.0, 1.0], 0.01) == 1  # never below the first


def test_a_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_codes_received_and_held_alike_pass_the_check() -> None:
    checked = hand_outs(["A", "B", "C"], ["C", "A", "B"])
    assert (checked.no_code_twice, checked.as_received) == (True, True)
    assert (checked.received, checked.stored, checked.stored_distinct) == (3, 3, 3)


def test_a_code_held_by_two_allocations_is_a_code_out_twice() -> None:
    checked = hand_outs(["A", "B"], ["A", "B", "B"])
    assert (checked.stored, checked.stored_distinct, checked.no_code_twice) == (3, 2, False)


def test_a_code_received_in_two_answers_is_a_code_out_twice() -> None:
    checked = hand_outs(["A", "A"], ["A"])
    assert (checked.received_twice, checked.no_code_twice) == (1, False)


def test_a_code_held_but_never_received_and_one_received_but_not_held_are_told_apart() -> None:
    checked = hand_outs(["A", "X"], ["A", "B"])
    assert checked.no_code_twice
    assert (checked.not_received, checked.not_stored, checked.as_received) == (1, 1, False)


def test_the_rate_counts_the_takes_answered_over_the_time_from_the_first_start_to_the_last_answer() -> None:
    first = Outcome(latencies=[0.010, 0.030], codes=["A", "B"], started=100.0, ended=109.0, cpu_seconds=1.0)
    second = Outcome(
        latencies=[0.020], codes=["C"], failures=Counter({"HTTP 409 pool_empty": 2}), started=101.0, ended=110.0
    )
    figures = summary([first, second])
    assert (figures["taken"], figures["seconds"], figures["per_second"]) == (3, 10.0, 0.3)
    assert (figures["failed"], figures["failures"]) == (2, {"HTTP 409 pool_empty": 2})
    assert figures["median_ms"] == pytest.approx(20)
    assert figures["p99_ms"] == pytest.approx(30)
    assert figures["takers_cpu_seconds"] == 1.0


def test_a_failure_is_named_by_its_status_and_the_apis_error_code() -> None:
    assert failure_reason(409, b'{"error": {"code": "pool_empty", "message": "..."}}') == "HTTP 409 pool_empty"
    assert failure_reason(502, b"<html>Bad Gateway</html>") == "HTTP 502"


def test_cpu_time_is_summed_by_role_and_a_process_started_meanwhile_counts_from_zero() -> None:
    before = {1: ("web", 10.0), 2: ("postgres", 5.0)}
    after = {1: ("web", 12.5), 2: ("postgres", 6.0), 3: ("postgres", 0.5)}
    assert used_between(before, after) == {"web": 2.5, "worker": 0.0, "postgres": 1.5, "redis": 0.0}


def test_the_pick_the_bench_explains_is_the_one_a_take_runs() -> None:
    assert " ".join(PICK.split()) == " ".join(str(picking._PICK).split())


def test_a_webhooks_latency_runs_from_its_uploads_decision_to_its_first_arrival() -> None:
    decided = {1: 100.0, 2: 200.0, 3: 300.0}
    # Upload 2 arrived twice (a retry): its first arrival counts; upload 9 was not timed.
    arrivals = [(1, 100.5), (2, 200.25), (2, 209.0), (3, 301.0), (9, 5.0)]
    figures = latency_figures(decided, arrivals)
    assert figures == {"deliveries": 3, "median_s": 0.5, "p95_s": 1.0, "max_s": 1.0}


def test_the_webhooks_rate_counts_the_deliveries_from_the_start_to_the_last_arrival() -> None:
    figures = rate_figures(10.0, [(1, 11.0), (2, 14.0), (3, 12.0)])
    assert figures == {"deliveries": 3, "seconds": 4.0, "per_second": 0.75}


def test_the_webhooks_latency_is_printed_in_milliseconds_beside_the_aim(capsys: pytest.CaptureFixture[str]) -> None:
    print_latency({"deliveries": 1000, "median_s": 0.0425, "p95_s": 0.25, "max_s": 1.5})
    out = capsys.readouterr().out
    assert "1,000 uploads" in out and "median 42 ms, p95 250 ms, max 1,500 ms" in out and "median < 1 s" in out
