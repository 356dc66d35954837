"""Which upload request and which publisher a log line is about.

Set where that becomes known (the worker's task, the API's key check, the
web login) and added to every record by `ContextFilter`, so that a log
collector can follow one request or one publisher through web and worker.
Only ids: never a code, a key, a name or a file name.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar, Token

_request_id: ContextVar[int | None] = ContextVar("log_request_id", default=None)
_publisher_id: ContextVar[int | None] = ContextVar("log_publisher_id", default=None)


def bind(*, request_id: int | None = None, publisher_id: int | None = None) -> list[Token[int | None]]:
    """Name what the lines from here on are about; None leaves a field as it is."""
    tokens = []
    if request_id is not None:
        tokens.append(_request_id.set(request_id))
    if publisher_id is not None:
        tokens.append(_publisher_id.set(publisher_id))
    return tokens


def clear() -> None:
    # A web thread serves one request after another in the same context.
    _request_id.set(None)
    _publisher_id.set(None)


@contextlib.contextmanager
def about(*, request_id: int | None = None, publisher_id: int | None = None) -> Iterator[None]:
    tokens = bind(request_id=request_id, publisher_id=publisher_id)
    try:
        yield
    finally:
        for token in reversed(tokens):
            token.var.reset(token)


class ContextFilter(logging.Filter):
    """Adds `request_id` and `publisher_id` to a record when they are known."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("request_id", _request_id), ("publisher_id", _publisher_id)):
            value = variable.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True
