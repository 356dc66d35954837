"""The two waits of an upload, shown on stderr so that stdout stays the
outcome: the bytes sent (a bar), then the request's status as the Code
Generator works (polled)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

from web.client.api import PublisherApi
from web.client.errors import RateLimited
from web.client.outcome import DECIDED

FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 2.0


@contextlib.contextmanager
def bytes_sent_bar(total: int) -> Iterator[Callable[[int], None]]:
    """A bar over `total` bytes; the callable takes the count sent so far."""
    with click.progressbar(length=total, label="Uploading", file=sys.stderr) as bar:
        sent = 0

        def advance(now_sent: int) -> None:
            nonlocal sent
            bar.update(min(now_sent, total) - sent)
            sent = min(now_sent, total)

        yield advance


def until_decided(api: PublisherApi, upload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Poll the request until completed or rejected, or until timeout
    seconds have passed: then it answers the last state it saw."""
    started = time.monotonic()
    interval = FIRST_POLL_SECONDS
    shown = None
    while upload["status"] not in DECIDED:
        shown = _show_state(upload, time.monotonic() - started, shown)
        if time.monotonic() - started >= timeout:
            break
        time.sleep(min(interval, max(0.0, timeout - (time.monotonic() - started))))
        # Back off: a long file need not be asked about five times a second.
        interval = min(interval * 1.5, MAX_POLL_SECONDS)
        try:
            upload = api.upload_request(upload["id"])
        except RateLimited as limited:
            time.sleep(limited.retry_after)
    if shown is not None and _on_terminal():
        click.echo(err=True)
    return upload


def _show_state(upload: dict[str, Any], elapsed: float, shown: str | None) -> str:
    """A line that refreshes in place on a terminal; elsewhere (logs, CI)
    one line per change of state."""
    state = upload["status"]
    if upload.get("code_count") is not None:
        state += f", {upload['code_count']} codes validated"
    if _on_terminal():
        click.echo(f"\r\x1b[KProcessing: {state} ({elapsed:.0f} s)", nl=False, err=True)
    elif state != shown:
        click.echo(f"Processing: {state}", err=True)
    return state


def _on_terminal() -> bool:
    return sys.stderr.isatty()
