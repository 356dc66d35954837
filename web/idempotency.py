"""The Idempotency-Key header on the API's POSTs that create an upload
request: a client that retries (a timeout, a dropped connection) gets the
request its first try created, never a second one, and the response says so
(`Idempotent-Replayed: true`). The key is kept on the request, unique per
publisher; when two tries race, the database lets one insert and the other
returns it, its own stored bytes rolled back. A key belongs to one
request: used again for a different one (another file, product, code type
or dry run; another dry run confirmed), it is refused with 409. The
header is declared, and its value checked, with the routes that take it
(web.api.schemas.Idempotency).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import g
from sqlalchemy import select

from shared.errors import Conflict, IdempotencyKeyTaken
from shared.models import UploadRequest
from shared.uploads import Asked
from web.database import db

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def once_per_file(key: str | None, create: Callable[[], UploadRequest]) -> tuple[UploadRequest, bool]:
    """The request `create` makes from the file the POST sends, or the one an
    earlier try with `key` made; and whether it is the earlier one.

    The file is read and stored before the key is looked up, as on a first
    try: a retry is told by what it sends, not by its key alone, so a body
    that is not a retry's (another file, a missing one) never gets the
    earlier response. A retried large file costs its upload time again, and
    its bytes are rolled back."""
    try:
        return create(), False
    except IdempotencyKeyTaken as taken:
        asked = taken.asked
        return _earlier(key, lambda earlier: Asked.of(earlier) == asked), True


def once(
    key: str | None, create: Callable[[], UploadRequest], same: Callable[[UploadRequest], bool]
) -> tuple[UploadRequest, bool]:
    """For a POST whose URL says all it asks (a confirmation): the request
    an earlier try with `key` made, at once, when `same` says it is what this
    POST asks for; else the one `create` makes. And whether it is the earlier one."""
    if key is not None:
        earlier = _created_with(key)
        if earlier is not None:
            return _checked(earlier, key, same), True
    try:
        return create(), False
    except IdempotencyKeyTaken:
        return _earlier(key, same), True


def _earlier(key: str | None, same: Callable[[UploadRequest], bool]) -> UploadRequest:
    """The request that won the key, after this try lost it."""
    db().rollback()
    assert key is not None, "only a try with a key can lose it"
    earlier = _created_with(key)
    assert earlier is not None, "the key's request was there a moment ago"
    return _checked(earlier, key, same)


def _created_with(key: str) -> UploadRequest | None:
    return db().scalar(
        select(UploadRequest).where(UploadRequest.publisher_id == g.publisher_id, UploadRequest.idempotency_key == key)
    )


def _checked(earlier: UploadRequest, key: str, same: Callable[[UploadRequest], bool]) -> UploadRequest:
    if not same(earlier):
        raise Conflict(
            f"the {HEADER} {key!r} was used for upload {earlier.id}, a different request; "
            "send a new key with every new request"
        )
    return earlier
