"""The takes of `make bench` (bench/README.md#takes): TAKERS clients taking
one code each, over and over, from one product's pool for a fixed time
(bench.takers); the rate, the latencies and every failure; then the
database asked whether a code went out twice and whether the allocations
hold exactly the codes the clients received; then, one client alone, a
take and a stock read timed beside a plain authenticated read
(`GET /api/v1/products`), the yardstick on a machine whose speed drifts.

    .venv/bin/python -m bench.takes                       # a fresh service, 200,000 codes, 20 s of takes
    .venv/bin/python -m bench.takes --seconds 5 --takers-as threads
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import Any

import psutil
import psycopg2
import requests

from bench import cpu
from bench.files import write_txt
from bench.reads import percentile, timed
from bench.service import PRODUCT_ID, Server, running_service, upload_until_decided
from bench.takers import CODE_TYPE, TIMEOUT_SECONDS, Outcome, Taker, failure_reason, run_takers

TAKERS = 16
TAKE_SECONDS = 20.0
READS = 50  # of each single-client call: a take, the stock, the plain read
READ_BUDGET_SECONDS = 20


@dataclass(frozen=True)
class TakeSettings:
    takers: int = TAKERS
    seconds: float = TAKE_SECONDS
    reads: int = READS
    as_processes: bool = True


@dataclass(frozen=True)
class HandOuts:
    """The codes the takers received against the codes the run's
    allocations hold in the database."""

    received: int
    received_twice: int  # codes that came in more than one answer
    stored: int  # the allocations' codes, count(*)
    stored_distinct: int  # count(DISTINCT code)
    not_received: int  # held by an allocation of the run, in no answer (an answer lost, e.g. timed out)
    not_stored: int  # in an answer, but held by no allocation of the run

    @property
    def no_code_twice(self) -> bool:
        return self.received_twice == 0 and self.stored == self.stored_distinct

    @property
    def as_received(self) -> bool:
        return self.not_received == 0 and self.not_stored == 0


def hand_outs(received: Sequence[str], stored: Sequence[str]) -> HandOuts:
    """Compare what the clients received with what the allocations hold."""
    received_set, stored_set = set(received), set(stored)
    return HandOuts(
        received=len(received),
        received_twice=sum(1 for n in Counter(received).values() if n > 1),
        stored=len(stored),
        stored_distinct=len(stored_set),
        not_received=len(stored_set - received_set),
        not_stored=len(received_set - stored_set),
    )


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The takers' outcomes together: the rate over the time from the first
    take's start to the last answer, the latencies of the takes answered
    201 (median, p95, p99, in ms) and the failures by reason."""
    latencies = [seconds for outcome in outcomes for seconds in outcome.latencies]
    seconds = max(o.ended for o in outcomes) - min(o.started for o in outcomes)
    failures: Counter[str] = sum((o.failures for o in outcomes), Counter())
    figures: dict[str, Any] = {
        "takers": len(outcomes),
        "seconds": seconds,
        "taken": len(latencies),
        "per_second": len(latencies) / seconds,
        "failed": sum(failures.values()),
        "failures": dict(failures.most_common()),
        "takers_cpu_seconds": sum(o.cpu_seconds for o in outcomes),
    }
    if latencies:
        figures["median_ms"] = statistics.median(latencies) * 1000
        figures |= {f"p{q}_ms": percentile(latencies, q / 100) * 1000 for q in (95, 99)}
    return figures


def run_takes(server: Server, product_id: int, settings: TakeSettings) -> dict[str, Any]:
    """The concurrent takes, the single client's calls, the check; printed and returned."""
    base = f"http://127.0.0.1:{server.port}"
    run = f"bench-take-{secrets.token_hex(4)}-"
    available = _available(server.database_url, product_id)
    takers = [
        Taker(server.port, server.api_key, product_id, f"{run}{number}-", settings.seconds)
        for number in range(settings.takers)
    ]
    moments: dict[str, Any] = {}

    def on_ready() -> None:  # every taker warmed up and waiting: the service is idle
        moments["before"] = (cpu.snapshot(server.process.pid, server.data_dir), psutil.cpu_times(), time.time())

    outcomes = run_takers(takers, settings.as_processes, on_ready)
    after = (cpu.snapshot(server.process.pid, server.data_dir), psutil.cpu_times(), time.time())
    before = moments["before"]
    figures = summary(outcomes) | {"available_before": available, "as": _kind(settings)}
    figures["cpu_seconds"] = cpu.used_between(before[0], after[0])
    # Over the time between the two snapshots, a little longer than the takes.
    figures["machine"] = {"seconds": after[2] - before[2], "busy_seconds": _busy(after[1]) - _busy(before[1])}
    alone = _one_client(base, server.api_key, product_id, f"{run}alone-", settings.reads)
    received = [code for outcome in outcomes for code in outcome.codes] + alone.pop("codes")
    figures["hand_outs"] = _checked(server.database_url, product_id, run, received)
    figures["one_client"] = alone
    figures["next_pick"] = _next_pick(server.database_url, product_id)
    _print(figures)
    return figures


def _kind(settings: TakeSettings) -> str:
    return "processes" if settings.as_processes else "threads"


def _busy(times: Any) -> float:
    """CPU seconds the whole machine spent working. Not idle, iowait or
    steal (a virtual machine's wait for its host); Linux counts guest time
    within user and nice already."""
    return float(sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq")))


def _available(database_url: str, product_id: int) -> int:
    with closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(codes), 0) FROM code_counts WHERE product_id = %s AND code_type = %s"
            " AND status = 'available'",
            (product_id, CODE_TYPE),
        )
        return int(cursor.fetchone()[0])


def _one_client(base: str, api_key: str, product_id: int, references: str, reads: int) -> dict[str, Any]:
    """One client alone: a plain authenticated read, a take and a stock read,
    each `reads` times after one not counted."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    figures: dict[str, Any] = {
        "products_read": timed(session, f"{base}/api/v1/products", reads, READ_BUDGET_SECONDS),
        "stock_read": timed(session, f"{base}/api/v1/products/{product_id}/stock", reads, READ_BUDGET_SECONDS),
    }
    times, codes = [], []
    for number in range(reads + 1):
        ask = {"reference": f"{references}{number}", "quantity": 1, "code_type": CODE_TYPE, "mode": "distribute"}
        started = time.perf_counter()
        response = session.post(f"{base}/api/v1/products/{product_id}/allocations", json=ask, timeout=TIMEOUT_SECONDS)
        if response.status_code != 201:
            raise SystemExit(f"a take of one client failed: {failure_reason(response.status_code, response.text)}")
        times.append(time.perf_counter() - started)
        codes += [code["code"] for code in response.json()["codes"]]
    times = times[1:]  # the first warms the route
    figures["take"] = {
        "n": reads,
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": percentile(times, 0.95) * 1000,
    }
    figures["take_over_read"] = figures["take"]["median_ms"] / figures["products_read"]["median_ms"]
    figures["codes"] = codes
    return figures


# The statement a take picks its codes with (shared/pool/picking.py), a copy
# that tests/test_bench.py holds to it: its cost after the takes says what
# the codes they took left at the head of the pool's index.
PICK = """
SELECT id, code, expiry_days, build_no, seats FROM license_codes
WHERE product_id = :product_id AND code_type = :code_type AND status = 'available'
ORDER BY request_id, line_no
LIMIT :quantity
FOR UPDATE SKIP LOCKED
"""


def _next_pick(database_url: str, product_id: int) -> dict[str, Any]:
    """The next take's pick, explained and rolled back: its time in the
    database, the pages it read, and the rows of codes the last vacuum has
    not yet cleared (each a taken code whose entry the pick steps over)."""
    statement = re.sub(r":(\w+)", r"%(\1)s", PICK)
    with closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
            {"product_id": product_id, "code_type": CODE_TYPE, "quantity": 1},
        )
        plan = cursor.fetchone()[0][0]
        connection.rollback()
        cursor.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'license_codes'")
        dead = int(cursor.fetchone()[0])
    top = plan["Plan"]
    return {
        "ms": float(plan["Execution Time"]),
        "pages": int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0)),
        "dead_rows": dead,
    }


_HELD = """
SELECT c.code, c.status = 'distributed' AND c.allocation_id = a.id AND a.status = 'distributed'
FROM allocations AS a
JOIN allocation_codes AS ac ON ac.allocation_id = a.id
JOIN license_codes AS c ON c.id = ac.code_id
WHERE a.product_id = %s AND a.reference LIKE %s
"""


def _checked(database_url: str, product_id: int, run: str, received: list[str]) -> dict[str, Any]:
    """The run's allocations and their codes, read back and compared with what the clients received."""
    with closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute(_HELD, (product_id, run + "%"))
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM allocations WHERE product_id = %s AND reference LIKE %s", (product_id, run + "%")
        )
        allocations = int(cursor.fetchone()[0])
    checked = hand_outs(received, [code for code, _ in rows])
    return asdict(checked) | {
        "allocations": allocations,
        "not_distributed_to_it": sum(1 for _, right in rows if not right),
        "no_code_twice": checked.no_code_twice,
        "as_received": checked.as_received,
    }


def _print(figures: dict[str, Any]) -> None:
    print()
    lines = (_rate_line(figures), _cpu_line(figures), _check_line(figures["hand_outs"]), _alone_line(figures))
    for line in (*lines, _pick_line(figures["next_pick"])):
        print(f"{'':>12}  {line}", flush=True)


def _rate_line(figures: dict[str, Any]) -> str:
    failures = ", ".join(f"{n:,} {reason}" for reason, n in figures["failures"].items())
    failed = f"{figures['failed']:,} failed: {failures}" if figures["failed"] else "none failed"
    latency = (
        f"median {figures['median_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms"
        if figures["taken"]
        else "no take answered"
    )
    return (
        f"takes: {figures['takers']} clients ({figures['as']}) for {figures['seconds']:.1f} s, "
        f"{figures['available_before']:,} codes available: {figures['taken']:,} taken, "
        f"{figures['per_second']:,.0f} a second; {latency}; {failed}"
    )


def _cpu_line(figures: dict[str, Any]) -> str:
    """CPU time a take, by role, and how busy the machine was, by us and by other work."""
    used = {**figures["cpu_seconds"], "takers": figures["takers_cpu_seconds"]}
    per_take = max(1, figures["taken"])
    roles = ", ".join(f"{role} {seconds / per_take * 1000:.2f} ms" for role, seconds in used.items())
    cores = psutil.cpu_count() or 1
    available = figures["machine"]["seconds"] * cores
    busy = figures["machine"]["busy_seconds"]
    others = max(0.0, busy - sum(used.values()))
    return (
        f"CPU a take: {roles}; the machine's {cores} cores {busy / available:.0%} busy, "
        f"{others / available:.0%} with other work"
    )


def _check_line(check: dict[str, Any]) -> str:
    verdict = "no code twice" if check["no_code_twice"] else "A CODE WENT OUT TWICE"
    same = (
        "exactly the codes they received"
        if check["as_received"]
        else f"{check['not_received']:,} held but not received, {check['not_stored']:,} received but not held"
    )
    return (
        f"{verdict}: the run's {check['allocations']:,} allocations hold {check['stored']:,} codes, "
        f"{check['stored_distinct']:,} distinct, {check['not_distributed_to_it']} not distributed to their "
        f"allocation; the clients received {check['received']:,} ({check['received_twice']} twice): {same}"
    )


def _alone_line(figures: dict[str, Any]) -> str:
    alone = figures["one_client"]
    take, plain, stock = alone["take"], alone["products_read"], alone["stock_read"]
    return (
        f"one client: a take median {take['median_ms']:.1f} ms, p95 {take['p95_ms']:.1f} ms; "
        f"GET /api/v1/products median {plain['median_ms']:.1f} ms (a take costs {alone['take_over_read']:.1f} "
        f"of it); stock read median {stock['median_ms']:.1f} ms, p95 {stock['p95_ms']:.1f} ms"
    )


def _pick_line(pick: dict[str, Any]) -> str:
    return (
        f"the next take's pick: {pick['ms']:.2f} ms in the database, {pick['pages']:,} pages read; "
        f"{pick['dead_rows']:,} dead rows of codes await the vacuum"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes", type=int, default=200_000, help="codes uploaded into the pool first")
    parser.add_argument("--seconds", type=float, default=TAKE_SECONDS, help="how long the takers take")
    parser.add_argument("--takers", type=int, default=TAKERS, help="concurrent clients")
    parser.add_argument("--takers-as", choices=("processes", "threads"), default="processes")
    parser.add_argument("--reads", type=int, default=READS, help="one client's takes and reads")
    arguments = parser.parse_args()
    with running_service() as (server, work):
        path = work / "pool.txt"
        write_txt(path, arguments.codes, seed=1)
        _, body = upload_until_decided(server, path)
        assert body["status"] == "completed", body
        as_processes = arguments.takers_as == "processes"
        run_takes(server, PRODUCT_ID, TakeSettings(arguments.takers, arguments.seconds, arguments.reads, as_processes))


if __name__ == "__main__":
    main()
