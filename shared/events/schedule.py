"""When a failed delivery is tried again: after about 5 s, 5 min, 30 min,
2 h, 5 h, 10 h and every 10 h after that (docs/product.md#events-signed-webhooks),
each wait moved by up to a tenth either way, so that the deliveries that
failed together (an endpoint down) do not all come back at the same moment."""

from __future__ import annotations

import random
from collections.abc import Sequence

JITTER = 0.1


def next_delay(failed_attempts: int, schedule: Sequence[int], rng: random.Random | None = None) -> float:
    """Seconds from now to the next try, after `failed_attempts` failures (at least one)."""
    base = schedule[min(max(failed_attempts, 1), len(schedule)) - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))
