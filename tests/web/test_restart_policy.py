"""When `licensecodes serve` restarts a dead child, and when it gives up."""

from __future__ import annotations

from web.restart_policy import (
    LONGEST_DELAY_SECONDS,
    QUICK_DEATH_SECONDS,
    QUICK_DEATHS_TO_GIVE_UP,
    STEADY_AFTER_SECONDS,
    DeathHistory,
    after_death,
)


def test_the_delay_doubles_with_each_death_up_to_the_longest() -> None:
    history = DeathHistory()
    # Up long enough not to be quick deaths, too short to count as steady.
    delays = [after_death(history, up_seconds=QUICK_DEATH_SECONDS + 1).delay_seconds for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, LONGEST_DELAY_SECONDS, LONGEST_DELAY_SECONDS, LONGEST_DELAY_SECONDS]
    assert history.deaths == 8


def test_a_child_that_stayed_up_a_while_starts_over_at_the_first_delay() -> None:
    history = DeathHistory()
    for _ in range(4):
        after_death(history, up_seconds=QUICK_DEATH_SECONDS + 1)

    decision = after_death(history, up_seconds=STEADY_AFTER_SECONDS)

    assert decision.delay_seconds == 1
    assert history.deaths == 5  # the total is kept for the operator


def test_a_child_that_keeps_dying_at_start_is_given_up() -> None:
    history = DeathHistory()
    decisions = [after_death(history, up_seconds=0.5) for _ in range(QUICK_DEATHS_TO_GIVE_UP)]

    assert [d.gives_up for d in decisions] == [False] * (QUICK_DEATHS_TO_GIVE_UP - 1) + [True]


def test_one_longer_run_between_quick_deaths_starts_the_count_again() -> None:
    history = DeathHistory()
    for _ in range(QUICK_DEATHS_TO_GIVE_UP - 1):
        after_death(history, up_seconds=0.5)
    assert not after_death(history, up_seconds=QUICK_DEATH_SECONDS).gives_up

    decisions = [after_death(history, up_seconds=0.5) for _ in range(QUICK_DEATHS_TO_GIVE_UP)]

    assert [d.gives_up for d in decisions] == [False] * (QUICK_DEATHS_TO_GIVE_UP - 1) + [True]


def test_a_child_dying_every_minute_for_years_keeps_the_longest_delay() -> None:
    history = DeathHistory()
    for _ in range(5000):
        decision = after_death(history, up_seconds=STEADY_AFTER_SECONDS - 1)
    assert decision.delay_seconds == LONGEST_DELAY_SECONDS
