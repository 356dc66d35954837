"""A web server killed (SIGKILL, every process of it) while takes of the
code pool run through it: a take that had not committed took nothing, one
that had is kept, and a client that retries each take it got no answer
for, with the same reference, gets either the codes taken before the kill
(replayed) or new ones, never a second set (docs/architecture.md#the-code-pool).
After every trial: no code in two allocations, every allocation holding
exactly the codes its status says, the counts equal to the rows."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from tests.conftest import Tenant
from tests.e2e.processes import web_server
from tests.pipeline.conftest import assert_counts_are_exact
from tests.pool.conftest import assert_no_code_twice, stock_pool

TAKERS = 8
POOL = 3000


def _take(port: int, tenant: Tenant, ask: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/products/1/allocations",
        data=json.dumps(ask).encode(),
        headers=tenant.auth | {"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _kill_server(port: int) -> None:
    """SIGKILL the web server listening on `port`: its master and every child."""
    listener = next(
        c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.status == "LISTEN"
    )
    root = psutil.Process(listener)
    while root.parent() is not None and "web" in " ".join(root.parent().cmdline()):
        root = root.parent()
    family = [root, *root.children(recursive=True)]
    for process in family:
        process.kill()
    psutil.wait_procs(family, timeout=10)


def _asks(number: int) -> Any:
    for n in range(1_000_000):
        yield {
            "reference": f"t{number}-{n}",
            "quantity": random.randint(1, 3),
            "mode": random.choice(["distribute", "reserve"]),
        }


def _holdings_match_statuses(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        wrong = session.execute(
            text("""
                SELECT a.id, a.status, a.quantity, count(c.id) FROM allocations a
                LEFT JOIN license_codes c ON c.allocation_id = a.id
                GROUP BY a.id
                HAVING count(c.id) <> CASE WHEN a.status IN ('reserved', 'distributed', 'revoked')
                                           THEN a.quantity ELSE 0 END
            """)
        ).all()
    assert wrong == []


@pytest.mark.parametrize("trial", range(5))
def test_a_web_server_killed_during_takes_hands_out_no_code_twice(
    settings: Settings, sessions: sessionmaker[Session], make_tenant: Any, trial: int
) -> None:
    acme: Tenant = make_tenant("acme", (1,))
    stock_pool(sessions, 1, POOL)
    answered: dict[str, list[str]] = {}
    unanswered: list[dict[str, Any]] = []
    refused: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()
    with web_server(settings, workers=2, threads=4) as port:
        stop = threading.Event()

        def taker(number: int) -> None:
            for ask in _asks(number):
                if stop.is_set():
                    return
                try:
                    status, body = _take(port, acme, ask)
                except (OSError, http.client.HTTPException, json.JSONDecodeError):
                    # Cut off: no answer, or part of one.
                    with lock:
                        unanswered.append(ask)
                    return
                with lock:
                    if status != 201:
                        refused.append((status, body))
                        return
                    answered[ask["reference"]] = [code["code"] for code in body["codes"]]

        threads = [threading.Thread(target=taker, args=(n,)) for n in range(TAKERS)]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.5, 2.0))
        _kill_server(port)
        stop.set()
        for thread in threads:
            thread.join()
    print(f"\ntrial {trial}: {len(answered)} takes answered before the kill, {len(unanswered)} cut off")
    assert refused == []
    _holdings_match_statuses(sessions)
    assert_no_code_twice(sessions)
    assert_counts_are_exact(sessions)
    with web_server(settings, workers=1, threads=2) as port:
        replayed = 0
        for ask in unanswered:
            status, body = _take(port, acme, ask)
            assert status in (200, 201), body
            replayed += status == 200
            answered[ask["reference"]] = [code["code"] for code in body["codes"]]
        print(f"trial {trial}: of the {len(unanswered)} retried, {replayed} had been taken before the kill")
    with sessions() as session:
        held = session.execute(
            text("""
                SELECT a.reference, array_agg(c.code ORDER BY c.request_id, c.line_no)
                FROM allocations a JOIN allocation_codes ac ON ac.allocation_id = a.id
                JOIN license_codes c ON c.id = ac.code_id GROUP BY a.reference
            """)
        ).all()
    assert {reference: list(codes) for reference, codes in held} == answered
    given = [code for codes in answered.values() for code in codes]
    assert len(given) == len(set(given))
    _holdings_match_statuses(sessions)
    assert_no_code_twice(sessions)
    assert_counts_are_exact(sessions)
