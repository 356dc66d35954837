"""A login flood against a real web server process: refused with 429 before
any hashing, while another publisher's API stays fast and the rightful user
still logs in from another address (web/login_limits.py)."""

from __future__ import annotations

import http.client
import json
import math
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.config import Settings
from tests import conftest as suite
from tests.e2e.processes import REPO, web_server
from tests.web.test_login_limits import fresh_counters

pytestmark = pytest.mark.e2e

PER_ADDRESS, FREE = 10, 3
FLOOD_THREADS, FLOOD_SECONDS = 8, 4.0
SERVER_THREADS = 8
# What the flood may add to the API's p95 over the same calls just before
# it, on the same machine: a flood whose passwords were all hashed would
# hold the server's threads and the cores for far longer.
API_P95_ADDED_SECONDS = 0.3
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Client:
    """One HTTP client on a connection of its own, from the loopback address
    `source` (Linux answers on all of 127.0.0.0/8, so a test can be two
    clients at two addresses)."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
        self._cookie = ""
        self._csrf = ""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.close()

    def call(self, method: str, path: str, form: dict[str, str] | None = None, **headers: str) -> Response:
        if self._cookie:
            headers["Cookie"] = self._cookie
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        self._connection.request(method, path, body=body, headers=headers)
        answer = self._connection.getresponse()
        data = answer.read()
        elapsed = time.monotonic() - started
        for cookie in answer.headers.get_all("Set-Cookie") or []:
            if cookie.startswith("session="):
                self._cookie = cookie.split(";")[0]
        return Response(answer.status, answer.headers.get("Retry-After"), answer.headers.get("Location"), data, elapsed)

    def log_in(self, email: str, password: str) -> Response:
        if not self._csrf:
            found = CSRF.search(self.call("GET", "/login").body.decode())
            assert found
            self._csrf = found.group(1)
        return self.call("POST", "/login", {"csrf_token": self._csrf, "email": email, "password": password})


@dataclass(frozen=True)
class Response:
    status: int
    retry_after: str | None
    location: str | None
    body: bytes
    seconds: float


@pytest.fixture
def server(settings: Settings) -> Iterator[int]:
    """`licensecodes web` on the test services, with small login limits."""
    fresh_counters(settings)
    try:
        with web_server(
            settings,
            workers=1,
            threads=SERVER_THREADS,
            LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE=str(PER_ADDRESS),
            LOGIN_FREE_FAILURES_PER_EMAIL=str(FREE),
        ) as port:
            yield port
    finally:
        fresh_counters(settings)


def flood(port: int, number: int, victim: str, until: float, results: list[Response]) -> None:
    """Wrong passwords as fast as the server answers: every other thread at
    the victim's e-mail, the rest at ever new addresses."""
    with Client(port) as client:
        attempt = 0
        while time.monotonic() < until:
            email = victim if number % 2 == 0 else f"someone-{number}-{attempt}@example.com"
            results.append(client.log_in(email, f"guess-{attempt}"))
            attempt += 1


def run_flood(port: int, victim: str) -> list[Response]:
    """FLOOD_THREADS flood threads for FLOOD_SECONDS; their results."""
    until = time.monotonic() + FLOOD_SECONDS
    results: list[Response] = []
    threads = [threading.Thread(target=flood, args=(port, n, victim, until, results)) for n in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


FLOOD_PROCESS = """
import json, sys
from tests.e2e.test_login_flood import run_flood
for response in run_flood(int(sys.argv[1]), sys.argv[2]):
    print(json.dumps([response.status, response.retry_after, response.seconds]))
"""


def start_flood(port: int, victim: str) -> subprocess.Popen[str]:
    """The flood in a process of its own, as another client's would be: its
    threads do not share this process's interpreter lock with the calls
    being timed."""
    command = [sys.executable, "-c", FLOOD_PROCESS, str(port), victim]
    return subprocess.Popen(command, env=suite.clean_environ(), cwd=REPO, stdout=subprocess.PIPE, text=True)


def flood_results(process: subprocess.Popen[str]) -> list[Response]:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    return [
        Response(status, retry, None, b"", seconds)
        for status, retry, seconds in map(json.loads, output.split("\n")[:-1])
    ]


def api_calls(port: int, key: str, until: float, seconds: list[float]) -> None:
    with Client(port) as client:
        while time.monotonic() < until:
            response = client.call("GET", "/api/v1/products", Authorization=f"Bearer {key}")
            assert response.status == 200
            seconds.append(response.seconds)
            time.sleep(0.02)


def rightful_login(port: int, email: str, password: str) -> Response:
    """The user from an address of their own; a 429 for busyness is retried
    as its Retry-After says, as a person would."""
    with Client(port, source="127.0.0.2") as client:
        for _ in range(10):
            response = client.log_in(email, password)
            if response.status != 429 or b"busy" not in response.body:
                break
            time.sleep(float(response.retry_after or 1))
        assert client.call("GET", "/products").status == 200, "not logged in"
        return response


def test_a_login_flood_is_refused_before_hashing_while_the_api_and_the_rightful_user_go_on(
    server: int, make_tenant: Any
) -> None:
    acme, other = make_tenant("acme"), make_tenant("other", (1234,))
    with Client(server) as api:
        for _ in range(5):  # the API's connections and caches warmed, as in a running service
            assert api.call("GET", "/api/v1/products", Authorization=f"Bearer {other.api_key}").status == 200
    quiet_seconds: list[float] = []
    api_calls(server, other.api_key, time.monotonic() + 1.5, quiet_seconds)
    quiet_p95 = statistics.quantiles(quiet_seconds, n=20)[-1]

    flooding = start_flood(server, acme.email)
    time.sleep(0.5)  # its requests under way
    api_seconds: list[float] = []
    timed = threading.Thread(
        target=api_calls, args=(server, other.api_key, time.monotonic() + FLOOD_SECONDS - 1, api_seconds)
    )
    timed.start()
    time.sleep(FLOOD_SECONDS / 2)
    rightful = rightful_login(server, acme.email, acme.password)
    timed.join(timeout=120)
    attempts = flood_results(flooding)

    statuses = [response.status for response in attempts]
    refused = [response for response in attempts if response.status == 429]
    api_p95 = statistics.quantiles(api_seconds, n=20)[-1]
    print(
        f"\nflood: {len(attempts)} logins, {statuses.count(401)} checked (401), {len(refused)} refused (429) "
        f"in {statistics.median([r.seconds for r in refused] or [math.nan]) * 1000:.0f} ms (median); "
        f"API: {len(api_seconds)} calls, median {statistics.median(api_seconds) * 1000:.0f} ms, "
        f"p95 {api_p95 * 1000:.0f} ms (before the flood {quiet_p95 * 1000:.0f} ms); "
        f"rightful login {rightful.status} in {rightful.seconds * 1000:.0f} ms"
    )
    assert set(statuses) <= {401, 429}
    # Checked passwords: the address's limit, and the few already past the check when it was reached.
    assert statuses.count(401) <= PER_ADDRESS + FLOOD_THREADS
    assert len(refused) >= 5 * statuses.count(401)
    assert all(response.retry_after and int(response.retry_after) >= 1 for response in refused)
    assert api_p95 < quiet_p95 + API_P95_ADDED_SECONDS and len(api_seconds) >= 20
    assert (rightful.status, rightful.location) == (302, "/products")
