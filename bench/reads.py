"""The reads of the scale mode (bench/README.md#the-scale-mode): pages of
codes and of requests, timed as a client sees them, through the API with a
key and through the screens with a logged-in session.

A read's URL is built in one place, `url`: a page deep in a list is asked
for by its cursor (`after`, docs/api.md) on a server that pages by cursor,
and by the page number that starts at the same place on one that does not
yet, so the same bench measures the code before cursors and after them.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

PER_PAGE = 50  # the default page of the API and of the screens, which the reads keep


@dataclass(frozen=True)
class Position:
    """Where a page starts: after this code or request id (the cursor), or,
    on a server without cursors, at the page number that starts there
    (None when no page number does)."""

    after: str
    page: int | None


@dataclass(frozen=True)
class Read:
    surface: str  # "codes API", "Code View", "requests API", "requests screen"
    label: str  # "first page", "1,000,000 deep", "status=reserved", "q=K"
    path: str
    filters: dict[str, str] = field(default_factory=dict)
    position: Position | None = None

    @property
    def on_screen(self) -> bool:
        """A screen is read with the publisher's login, the API with its key."""
        return "API" not in self.surface


def url(read: Read, cursors: bool) -> str | None:
    """The read's URL; None when the server cannot page to its position."""
    query = dict(read.filters)
    if read.position is not None:
        if cursors:
            query["after"] = read.position.after
        elif read.position.page is not None:
            query["page"] = str(read.position.page)
        else:
            return None
    return read.path + ("?" + urlencode(query) if query else "")


def position_at(depth: int, last_before: str) -> Position:
    """The page that starts `depth` items in, whose previous page ends with `last_before`."""
    return Position(last_before, depth // PER_PAGE + 1 if depth % PER_PAGE == 0 else None)


def pages_by_cursor(session: requests.Session, base: str, path: str) -> bool:
    """Whether the server pages this list by cursor: its pages say where the next one is."""
    response = session.get(base + path, timeout=120)
    response.raise_for_status()
    return "next" in response.json()


@dataclass
class Publisher:
    """The two ways one publisher reads: its API key, and its user's login."""

    api: requests.Session
    screen: requests.Session

    @classmethod
    def signed_in(cls, base: str, api_key: str, email: str, password: str) -> Publisher:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {api_key}"
        return cls(api, log_in(base, email, password))

    def session_for(self, read: Read) -> requests.Session:
        return self.screen if read.on_screen else self.api


def log_in(base: str, email: str, password: str) -> requests.Session:
    """A session logged in through the login form, as a browser would."""
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=30)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit("the login form has no CSRF token")
    fields = {"csrf_token": token.group(1), "email": email, "password": password}
    answer = session.post(f"{base}/login", data=fields, allow_redirects=False, timeout=60)
    if answer.status_code != 302:
        raise SystemExit(f"login as {email} failed: {answer.status_code}")
    return session


def timed(session: requests.Session, address: str, reads: int, budget_seconds: float) -> dict[str, Any]:
    """`reads` reads of the address after one not counted (it warms the
    connection and the caches), fewer when they outrun the budget."""
    warm = session.get(address, timeout=600)
    if warm.status_code != 200:
        return {"status": warm.status_code, "n": 0}
    times: list[float] = []
    deadline = time.perf_counter() + budget_seconds
    while len(times) < reads and (not times or time.perf_counter() < deadline):
        started = time.perf_counter()
        response = session.get(address, timeout=600)
        _ = response.content
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            return {"status": response.status_code, "n": len(times)}
    return {"status": 200, "n": len(times), "median_ms": statistics.median(times) * 1000, "p95_ms": p95(times) * 1000}


def p95(times: list[float]) -> float:
    return percentile(times, 0.95)


def percentile(values: list[float], fraction: float) -> float:
    """The value at rank round(fraction n) of the sorted values (the first
    at least): how every percentile of the bench is taken."""
    if not values:
        raise ValueError("no values to take a percentile of")
    return sorted(values)[max(0, round(fraction * len(values)) - 1)]


def cell(figures: dict[str, Any], reads: int) -> str:
    """A read's figures for the table: median / p95 in ms, and how many reads when fewer than asked."""
    if "median_ms" not in figures:
        return "not asked" if figures.get("status") is None else f"HTTP {figures['status']}"
    text = f"{figures['median_ms']:,.0f} / {figures['p95_ms']:,.0f}"
    return text if figures["n"] >= reads else f"{text} ({figures['n']} reads)"
