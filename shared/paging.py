"""Which page of a long list to read, and what a page read says: pages
follow a cursor, the last item of the page before, so that every page, at
any depth, starts at its first row in an index
(docs/architecture.md#reads-at-scale). Page numbers are kept for the first
MAX_NUMBERED_PAGES pages, which OFFSET still reads quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.errors import InvalidValue
from shared.models import MAX_CODE_LENGTH

Item = TypeVar("Item")
Key = TypeVar("Key", str, int)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_NUMBERED_PAGES = 100
# A total that rows must be counted for (a prefix search, the requests) is
# counted this far and no further: "more than 10,000" reads as fast at any size.
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class Window(Generic[Key]):
    """A page: `limit` items after the cursor `after`, or (the screens'
    Previous) the `limit` items before `before`, or from the first item
    at or after `start` (a jump), or page number `page` (1 to
    MAX_NUMBERED_PAGES) from the start. At most one of them is set."""

    limit: int = DEFAULT_LIMIT
    after: Key | None = None
    before: Key | None = None
    start: Key | None = None
    page: int = 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    @property
    def backwards(self) -> bool:
        return self.before is not None


@dataclass(frozen=True)
class Listing(Generic[Item, Key]):
    """One page of a list, in list order, with what is needed to go on:
    the cursors of the next and previous pages (None at either end), and
    the total, exact or (`total_is_exact` False) counted up to COUNT_LIMIT."""

    items: Sequence[Item]
    next_after: Key | None
    previous_before: Key | None
    total: int
    total_is_exact: bool
    window: Window[Key]


def checked_limit(limit: int | None, per_page: int | None = None) -> int:
    """The page size: `limit`, 1 to MAX_LIMIT; or, as clients sent it
    before cursors, `per_page`, where more than MAX_LIMIT is taken as
    MAX_LIMIT as it always was."""
    if limit is not None:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidValue(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
        return limit
    if per_page is not None:
        return max(1, min(per_page, MAX_LIMIT))
    return DEFAULT_LIMIT


PAGE_LIMIT_MESSAGE = (
    f"page numbers go up to {MAX_NUMBERED_PAGES}; for deeper pages send after, "
    "the last item of the page before, as the next link of each page does"
)


def checked_page(page: int | None, cursor_given: bool) -> int:
    """A page number is read with OFFSET, which slows with depth: the first
    MAX_NUMBERED_PAGES pages only; deeper pages follow `next` (`after`).
    A cursor says where the page starts by itself: a page number beside it
    is not read."""
    if page is None or cursor_given:
        return 1
    if not 1 <= page <= MAX_NUMBERED_PAGES:
        raise InvalidValue(PAGE_LIMIT_MESSAGE)
    return page


def is_whole_number(raw: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "¹" and "²", which int() refuses."""
    return raw.isascii() and raw.isdigit()


def whole_number(raw: str | None, name: str, *, minimum: int = 1) -> int | None:
    """A parameter of the screens that must be a whole number, or absent."""
    if raw is None:
        return None
    if not is_whole_number(raw) or len(raw) > 18 or int(raw) < minimum:
        raise InvalidValue(f"{name} must be a whole number of at least {minimum}, not {raw[:40]!r}")
    return int(raw)


def checked_code_cursor(value: str | None, name: str) -> str | None:
    """A code as a cursor. Any text compares with the codes; a NUL byte
    (which PostgreSQL text cannot hold) and other control characters are
    refused for every parameter already (web.input_guard)."""
    if value is None:
        return None
    if not value or len(value) > MAX_CODE_LENGTH:
        raise InvalidValue(f"{name} must be a code of 1 to {MAX_CODE_LENGTH} characters, not {value[:40]!r}")
    return value


def listing_of(
    rows: Sequence[Item], window: Window[Key], key_of: Callable[[Item], Key], total: int, total_is_exact: bool
) -> Listing[Item, Key]:
    """The page of a query that asked for `window.limit + 1` rows in the
    direction read (one more tells whether the list goes on that way)."""
    more = len(rows) > window.limit
    items = list(rows[: window.limit])
    if window.backwards:
        items.reverse()
    next_after: Key | None = None
    previous_before: Key | None = None
    if items:
        first, last = key_of(items[0]), key_of(items[-1])
        if window.backwards:
            next_after, previous_before = last, first if more else None
        else:
            at_start = window.after is None and window.start is None and window.page == 1
            next_after, previous_before = (last if more else None), (None if at_start else first)
    return Listing(items, next_after, previous_before, total, total_is_exact, window)
