"""The API's pages of a list: the window a query asks for, and the link to
the page after (docs/api.md#pages)."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from shared.paging import Key, Listing, Window, checked_limit, checked_page

# What says where a page starts and how long it is: not carried to the next page's link.
_PAGING = ("after", "page", "per_page", "limit")


def window_of(query: dict[str, Any], after: Key | None) -> Window[Key]:
    """The page the checked query parameters ask for; `after` already checked."""
    return Window(
        limit=checked_limit(query.get("limit"), query.get("per_page")),
        after=after,
        page=checked_page(query.get("page"), after is not None),
    )


def next_page_url(listing: Listing[Any, Any], query: dict[str, Any]) -> str | None:
    """The relative URL of the page after this one: the same filters and
    size, after the page's last item; None on the last page."""
    if listing.next_after is None:
        return None
    kept = {name: value for name, value in query.items() if name not in _PAGING}
    assert request.endpoint is not None and request.view_args is not None
    return url_for(request.endpoint, **request.view_args, **kept, limit=listing.window.limit, after=listing.next_after)
