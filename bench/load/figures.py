"""What a load run comes to: its figures, from locust's records of every
request and the database's account of every upload, and the criteria they
must meet."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.load.plan import STATUS, UPLOAD

DRAIN_LIMIT_SECONDS = 60


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest rank, as bench/run.py takes its p95."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def latency(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    times = [record["ms"] for record in records if record["name"] == name and record["status"]]
    p50, p95 = percentile(times, 0.50), percentile(times, 0.95)
    return {"count": len(times), "p50_ms": _rounded(p50), "p95_ms": _rounded(p95)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def figures(
    records: list[dict[str, Any]], uploads: dict[str, Any], load_seconds: float, drain_seconds: float, drained: bool
) -> dict[str, Any]:
    """`records`: locust's, one per request; `uploads`: the database's account
    (bench.load.uploads); `drain_seconds`: from the end of the load until
    nothing was pending (`drained`), or until the wait gave up."""
    statuses = [record["status"] for record in records]
    accepted = sum(1 for record in records if record["name"] == UPLOAD and record["status"] == 202)
    return {
        "requests": len(records),
        "server_errors_5xx": sum(1 for status in statuses if status >= 500),
        "client_errors_4xx": sum(1 for status in statuses if 400 <= status < 500),
        "no_answer": statuses.count(0),
        "failures": dict(Counter(record["error"] for record in records if record["error"])),
        "uploads_accepted": accepted,
        "upload_post": latency(records, UPLOAD),
        "status_poll": latency(records, STATUS),
        "uploads_by_status": uploads["by_status"],
        "upload_to_decided_seconds": uploads["upload_to_decided_seconds"],
        "codes_stored": uploads["codes_stored"],
        "load_seconds": round(load_seconds, 2),
        "drain_seconds": round(drain_seconds, 2),
        "drained": drained,
        # From the start of the load until the last request was decided.
        "codes_per_second": round(uploads["codes_stored"] / (load_seconds + drain_seconds)),
    }


def failed_criteria(result: dict[str, Any]) -> list[str]:
    by_status = result["uploads_by_status"]
    undecided = sum(count for status, count in by_status.items() if status != "completed")
    failures = []
    if result["requests"] == 0 or result["uploads_accepted"] == 0:
        failures.append("no upload was accepted")
    if result["server_errors_5xx"]:
        failures.append(f"{result['server_errors_5xx']} answers were 5xx")
    if undecided:
        failures.append(f"not every upload request completed: {by_status}")
    if by_status.get("completed", 0) < result["uploads_accepted"]:
        failures.append(f"{result['uploads_accepted']} uploads accepted, {by_status.get('completed', 0)} completed")
    if not result["drained"] or result["drain_seconds"] > DRAIN_LIMIT_SECONDS:
        failures.append(f"the queue took over {DRAIN_LIMIT_SECONDS} s to drain")
    return failures
