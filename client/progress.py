"""The two waits of an upload, shown on stderr so that stdout stays the
outcome: the bytes sent (a bar), then the request's status as the Code
Generator works (polled; a bar of the file checked while processing)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from client.api import PublisherApi
from client.errors import RateLimited
from client.outcome import DECIDED, kind_of

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar returns

FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 2.0
PROGRESS_POLL_SECONDS = 1.0  # the server writes a request's progress about once a second


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
    seconds have passed: then it returns the last state it saw."""
    started = time.monotonic()
    interval = FIRST_POLL_SECONDS
    with _StatusView() as view:
        while upload["status"] not in DECIDED:
            view.show(upload, time.monotonic() - started)
            if time.monotonic() - started >= timeout:
                break
            time.sleep(min(interval, max(0.0, timeout - (time.monotonic() - started))))
            # Back off: a long file need not be asked about five times a
            # second. A bar, though, moves as often as the server counts.
            slowest = MAX_POLL_SECONDS if upload.get("progress") is None else PROGRESS_POLL_SECONDS
            interval = min(interval * 1.5, slowest)
            try:
                upload = api.upload_request(upload["id"])
            except RateLimited as limited:
                time.sleep(limited.retry_after)
        view.settle(upload)
    return upload


class _StatusView(contextlib.ExitStack):
    """The request as it is polled. On a terminal: a line that refreshes in
    place while queued, then a bar of the file checked (the API's
    `progress`) while processing. Elsewhere (logs, CI): one line per change
    of state, and per tenth of the file checked."""

    def __init__(self) -> None:
        super().__init__()
        self._bar: ProgressBar[Any] | None = None
        self._shown: str | None = None

    def show(self, upload: dict[str, Any], elapsed: float) -> None:
        checked = upload.get("progress")
        if not _on_terminal():
            self._log_line(upload, checked)
        elif checked is not None:
            self._move_bar(checked["percent"], _lines_checked(checked, upload))
        elif self._bar is None:
            click.echo(f"\r\x1b[KProcessing: {upload['status']} ({elapsed:.0f} s)", nl=False, err=True)
            self._shown = upload["status"]

    def settle(self, upload: dict[str, Any]) -> None:
        """The bar's last word, once decided."""
        if self._bar is not None and upload["status"] in DECIDED:
            done = upload["status"] == "completed"
            self._move_bar(100 if done else self._bar.pos, upload["status"])

    def close(self) -> None:
        super().close()  # the bar, if any, ends its own line
        if self._bar is None and self._shown is not None and _on_terminal():
            click.echo(err=True)

    def _move_bar(self, percent: int, text: str) -> None:
        if self._bar is None:
            if self._shown is not None:
                click.echo("\r\x1b[K", nl=False, err=True)  # the queued line makes way for the bar
            bar = click.progressbar(length=100, label="Processing", file=sys.stderr, item_show_func=_as_is)
            self._bar = self.enter_context(bar)
        # Set, not advanced: a request given back and claimed again starts over.
        self._bar.pos, self._bar.current_item = percent, text
        self._bar.render_progress()

    def _log_line(self, upload: dict[str, Any], checked: dict[str, int] | None) -> None:
        status = upload["status"]
        key = status if checked is None else f"{status} {checked['percent'] // 10}"  # a line per tenth
        if key != self._shown:
            counted = None if checked is None else _lines_checked(checked, upload)
            shown = status if checked is None else f"{status}, {checked['percent']}% ({counted})"
            click.echo(f"Processing: {shown}", err=True)
            self._shown = key


def _lines_checked(checked: dict[str, int], upload: dict[str, Any]) -> str:
    """A generation counts the codes it has made; an upload, the lines of its file."""
    made = kind_of(upload) == "generation"
    if checked["percent"] >= 100:  # the last checks and the storing run
        return f"all {checked['lines_checked']:,} {'codes made' if made else 'lines read'}, finishing"
    return f"{checked['lines_checked']:,} {'codes made' if made else 'lines checked'}"


def _as_is(text: str | None) -> str | None:
    return text


def _on_terminal() -> bool:
    return sys.stderr.isatty()
