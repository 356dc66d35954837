"""The clients of the takes (bench/README.md#takes): each takes one code at
a time through `POST /api/v1/products/<id>/allocations` with references of
its own, on one kept-alive HTTP connection, until its time is up, as a
shop's checkouts would. Every taker warms its connection first and then
waits for the others, so all start together.

The client shares the machine with the service it measures, so it is made
cheap: http.client costs a quarter of the CPU of a requests.Session a call
(0.45 ms against 1.7-1.9 ms here), and each taker is a process of its own,
not a thread, so no answer waits for a GIL held by another taker before
its time is taken (bench/README.md#takes compares them).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CODE_TYPE = "activation"  # what the bench's TXT files upload
TIMEOUT_SECONDS = 30
READY_SECONDS = 120  # for every taker to start and warm its connection


HOST = "127.0.0.1"  # where bench.service starts the service


@dataclass(frozen=True)
class Taker:
    port: int
    api_key: str
    product_id: int
    references: str  # the prefix of its references; the number of the take follows
    seconds: float

    @property
    def path(self) -> str:
        return f"/api/v1/products/{self.product_id}/allocations"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}


@dataclass
class Outcome:
    """What one taker saw."""

    latencies: list[float] = field(default_factory=list)  # seconds, of the takes answered 201
    codes: list[str] = field(default_factory=list)  # the codes those answers gave
    failures: Counter[str] = field(default_factory=Counter)  # why the others failed
    cpu_seconds: float = 0.0  # the taker's own, while taking
    started: float = 0.0  # time.time() at its first take
    ended: float = 0.0  # and at its last answer


def run_takers(takers: list[Taker], as_processes: bool, on_ready: Any = None) -> list[Outcome]:
    """Run the takers at once; their outcomes. `on_ready()` is called once
    every taker is ready, just before they start."""
    if as_processes:
        context = multiprocessing.get_context("spawn")
        ready, outcomes, runner = context.Barrier(len(takers) + 1), context.Queue(), context.Process
    else:
        ready, outcomes, runner = threading.Barrier(len(takers) + 1), queue.Queue(), threading.Thread
    runners = [runner(target=take_for, args=(taker, ready, outcomes), daemon=True) for taker in takers]
    for one in runners:
        one.start()
    try:
        ready.wait(READY_SECONDS)
        if on_ready is not None:
            on_ready()
        ready.wait(READY_SECONDS)
        longest = max(taker.seconds for taker in takers)
        # Read before joining: a process ends only once its outcome has left the queue.
        return [outcomes.get(timeout=longest + TIMEOUT_SECONDS + READY_SECONDS) for _ in runners]
    finally:
        for one in runners:
            one.join(timeout=TIMEOUT_SECONDS)


def take_for(taker: Taker, ready: Any, outcomes: Any) -> None:
    """One taker, in a process or thread of its own: warm the connection,
    wait twice at the barrier (ready; then the main process's "go"), take
    until the time is up, and put the outcome on the queue."""
    connection = http.client.HTTPConnection(HOST, taker.port, timeout=TIMEOUT_SECONDS)
    status, body = _call(connection, "GET", "/api/v1/products", None, taker.headers)
    if status != 200:
        raise SystemExit(f"a taker could not read the products: {failure_reason(status, body)}")
    ready.wait(READY_SECONDS)
    ready.wait(READY_SECONDS)
    outcomes.put(_take_until(connection, taker))


def _take_until(connection: http.client.HTTPConnection, taker: Taker) -> Outcome:
    outcome = Outcome(started=time.time())
    cpu = time.thread_time()
    deadline = time.perf_counter() + taker.seconds
    number = 0
    while time.perf_counter() < deadline:
        number += 1
        ask = {"reference": f"{taker.references}{number}", "quantity": 1, "code_type": CODE_TYPE, "mode": "distribute"}
        started = time.perf_counter()
        try:
            status, body = _call(connection, "POST", taker.path, json.dumps(ask), taker.headers)
        except (OSError, http.client.HTTPException) as error:
            outcome.failures[f"no answer ({type(error).__name__})"] += 1
            connection.close()  # the next request opens a new connection
            continue
        if status == 201:
            outcome.latencies.append(time.perf_counter() - started)
            outcome.codes += [code["code"] for code in json.loads(body)["codes"]]
        else:
            outcome.failures[failure_reason(status, body)] += 1
    outcome.ended = time.time()
    outcome.cpu_seconds = time.thread_time() - cpu
    return outcome


def _call(
    connection: http.client.HTTPConnection, method: str, path: str, body: str | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def failure_reason(status: int, body: bytes | str) -> str:
    """A failed call's status and the API's error code (docs/api.md), so
    that like failures are counted together."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    return f"HTTP {status} {code}" if code else f"HTTP {status}"
