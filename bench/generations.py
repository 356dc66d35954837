"""A generation request against an upload of as many codes of the same
length (docs/product.md#generation-requests: a million codes generated, the
request to completed, in no more time than such an upload). The demo
product has no prefix, and the bench's files hold codes of 20 characters,
so the generation asks for 20 random characters in one group.

Each code stored makes the next insert a little dearer (a larger unique
index), and the uploads of that size run first: so an upload of the same
size is timed again after the generations, and the generation is compared
with the median of the uploads before and after it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.service import PRODUCT_ID, MemoryPeaks, Server, post_json, status

FORMAT = {"length": 20, "group": 0}
MB = 2**20


def generate(server: Server, quantity: int) -> int:
    """POST the generation; return its request id."""
    created = post_json(server, f"/products/{PRODUCT_ID}/generations", {"quantity": quantity, "format": FORMAT}, 60)
    return int(str(created["id"]))


def generate_until_decided(server: Server, quantity: int) -> tuple[float, dict[str, Any]]:
    """Seconds from the POST until a client polling every 20 ms sees it decided."""
    started = time.perf_counter()
    request_id = generate(server, quantity)
    while True:
        body = status(server, request_id)
        if body["status"] in ("completed", "rejected"):
            return time.perf_counter() - started, body
        time.sleep(0.02)


def run_generations(
    server: Server, quantity: int, runs: int, uploads_before: float, upload_after: Callable[[], float]
) -> dict[str, Any]:
    """The median of `runs` generations of `quantity` codes, and its ratio to
    the uploads of as many codes around them: `uploads_before` (their
    median) and `upload_after`, which times one more."""
    times, worker_rss = [], 0
    for _ in range(runs):
        with MemoryPeaks(server) as memory:
            seconds, body = generate_until_decided(server, quantity)
        assert body["status"] == "completed" and body["code_count"] == quantity, body
        times.append(seconds)
        worker_rss = max(worker_rss, memory.peaks["worker"])
        print(f"{'':>14}one generation: {seconds:.2f} s", flush=True)
    after = upload_after()
    print(f"{'':>14}one upload after them: {after:.2f} s", flush=True)
    upload_seconds = statistics.median([uploads_before, after])
    figures = {
        "seconds": statistics.median(times),
        "upload_seconds": upload_seconds,
        "upload_seconds_before_and_after": [uploads_before, after],
        "peak_rss_mb": {"worker": round(worker_rss / MB, 1)},
    }
    figures["ratio"] = figures["seconds"] / upload_seconds
    print(f"{quantity:>12,} codes  generated {figures['seconds']:7.2f} s  uploaded {upload_seconds:6.2f} s "
          f"(before and after)  ratio {figures['ratio']:4.2f}  "
          f"peak RSS worker {figures['peak_rss_mb']['worker']:.0f} MB",
          flush=True)  # fmt: skip
    return figures
