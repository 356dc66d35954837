"""When `licensecodes serve` restarts a child process that died on its own,
and when it gives up (docs/operating.md#when-a-child-process-dies).

Pure arithmetic on the child's history, no processes or clocks: the
supervisor (web.supervisor) passes in how long the child was up.

A child is restarted after a delay that doubles with each death (1 s, 2 s,
4 s … up to 30 s), so a crash loop does not keep two cores busy starting
Python. A child that then stays up a minute is forgiven its earlier deaths.
Only a child that keeps dying within seconds of its start (five times in a
row) is a fault a restart cannot mend, a bad setting or a port taken, say:
then serve gives up and stops everything.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_DELAY_SECONDS = 1.0
LONGEST_DELAY_SECONDS = 30.0
# Up this long, a child counts as healthy again: its delay starts over.
STEADY_AFTER_SECONDS = 60.0
# A death this soon after the start is a quick death; this many in a row end serve.
QUICK_DEATH_SECONDS = 15.0
QUICK_DEATHS_TO_GIVE_UP = 5


@dataclass
class DeathHistory:
    """What the supervisor remembers of one child's deaths."""

    deaths: int = 0  # since serve started
    deaths_in_a_row: int = 0  # since it last stayed up STEADY_AFTER_SECONDS
    quick_deaths_in_a_row: int = 0


@dataclass(frozen=True)
class Decision:
    """Restart after `delay_seconds`, or give up when it is None."""

    delay_seconds: float | None

    @property
    def gives_up(self) -> bool:
        return self.delay_seconds is None


def after_death(history: DeathHistory, up_seconds: float) -> Decision:
    """Count a death of a child that had been up `up_seconds`, and decide."""
    if up_seconds >= STEADY_AFTER_SECONDS:
        history.deaths_in_a_row = 0
    history.deaths += 1
    history.deaths_in_a_row += 1
    if up_seconds < QUICK_DEATH_SECONDS:
        history.quick_deaths_in_a_row += 1
    else:
        history.quick_deaths_in_a_row = 0
    if history.quick_deaths_in_a_row >= QUICK_DEATHS_TO_GIVE_UP:
        return Decision(None)
    # The exponent is bounded: a child that dies every minute for a year must not overflow it.
    doublings = min(history.deaths_in_a_row - 1, 16)
    return Decision(min(FIRST_DELAY_SECONDS * 2**doublings, LONGEST_DELAY_SECONDS))
