"""The Code Generator's record of a rejected file's problems
(shared/loading/feed.py ProblemLog): every problem counted, the
MAX_REPORTED_PROBLEMS lowest lines kept for the error report, whatever
order they come in and however many there are."""

from __future__ import annotations

from shared.formats import Problem, ProblemRun
from shared.loading.feed import ProblemLog
from shared.models import MAX_REPORTED_PROBLEMS
from shared.states import MAX_LISTED_ERRORS


def blank(line: int) -> Problem:
    return Problem(line, "blank_line", f"line {line}: blank")


def rows(log: ProblemLog) -> list[list[str]]:
    return [row.split("\t") for row in log.rows().read().decode().splitlines()]


def test_two_million_problems_are_all_counted_and_only_the_first_ten_thousand_lines_kept() -> None:
    log = ProblemLog(7)
    log.add_run(ProblemRun(2, 2_000_000, "blank_line", "blank"))

    assert log.count == 2_000_000
    assert log.not_kept == 2_000_000 - MAX_REPORTED_PROBLEMS
    kept = rows(log)
    assert len(kept) == MAX_REPORTED_PROBLEMS == 10_000
    assert kept[0] == ["7", "2", "blank_line", "line 2: blank"]
    assert [int(row[1]) for row in kept] == list(range(2, 2 + MAX_REPORTED_PROBLEMS))
    assert log.listed() == [blank(line) for line in range(2, 2 + MAX_LISTED_ERRORS)]


def test_a_problem_found_later_on_a_lower_line_takes_the_place_of_the_highest_line_kept() -> None:
    """Duplicates are named after the reading, on any line: one on line 3
    must be in the report even after 10,000 problems on later lines."""
    log = ProblemLog(1)
    for line in range(10, 30_010):
        log.add(blank(line))
    log.add_run(ProblemRun(40_000, 5, "blank_line", "blank"))
    duplicate = Problem(3, "duplicate_in_file", "line 3: the code 'A' already appears on line 1")
    log.add(duplicate)

    assert log.count == 30_000 + 5 + 1
    kept = [int(row[1]) for row in rows(log)]
    assert kept == [3, *range(10, 10 + MAX_REPORTED_PROBLEMS - 1)]
    assert log.listed()[0] == duplicate


def test_a_run_below_the_highest_line_kept_is_kept_line_by_line() -> None:
    log = ProblemLog(1)
    for line in range(100_000, 100_000 + MAX_REPORTED_PROBLEMS):
        log.add(blank(line))
    log.add_run(ProblemRun(5, 3, "blank_line", "blank"))

    assert log.count == MAX_REPORTED_PROBLEMS + 3
    assert [int(row[1]) for row in rows(log)][:4] == [5, 6, 7, 100_000]
    assert log.listed()[:3] == [blank(5), blank(6), blank(7)]
