"""The ASGI front of the Flask app: a request reaches the app's threads only
once its whole body has arrived (docs/architecture.md#the-web-tier).

The body is spooled, in memory up to SPOOL_IN_MEMORY_BYTES and then in an
unnamed temporary file, while the event loop goes on serving other
connections; a client sending slower than MIN_BYTES_PER_WINDOW in any
WINDOW_SECONDS, or more than the upload limit allows, is refused without the
app reading a byte. The refusal itself is rendered by the app (JSON on the
API, a page on the screens), which reads the verdict from the ASGI scope that
a2wsgi hands it as `environ["asgi.scope"]`; a header could be forged by the
client, the scope cannot.

The headers' own time limit is the HTTP server's: hypercorn closes a
connection whose request headers are not complete within its keep-alive
timeout (web.serving.http_worker).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from enum import StrEnum
from typing import IO, Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Loosely typed: a2wsgi and hypercorn each declare the scope and messages their own way.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

SPOOL_IN_MEMORY_BYTES = 1024 * 1024
REPLAY_BYTES = 256 * 1024
# An upload body slower than 1 KB/s over 30 s is closed.
WINDOW_SECONDS = 30.0
MIN_BYTES_PER_WINDOW = 30 * 1024
REFUSED = "licensecodes.refused"


class Refusal(StrEnum):
    """Why the front refused a body; the app answers with the matching status."""

    TOO_LARGE = "too_large"
    TOO_SLOW = "too_slow"


def refusal_of(environ: dict[str, Any]) -> Refusal | None:
    """The front's verdict on the request the app is handling, if any."""
    scope = environ.get("asgi.scope")
    return None if scope is None else scope.get(REFUSED)


class BufferingFront:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        *,
        window_seconds: float = WINDOW_SECONDS,
        min_bytes_per_window: int = MIN_BYTES_PER_WINDOW,
    ) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes
        self._window_seconds = window_seconds
        self._min_bytes_per_window = min_bytes_per_window

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)  # the lifespan messages
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as body:
            refusal = _declared_too_large(scope, self._max_body_bytes)
            if refusal is None:
                try:
                    refusal = await self._spool(receive, body)
                except _ClientGone:
                    return  # nobody to answer
            if refusal is not None:
                # The app answers at once without reading; the server then
                # closes the connection, whose body was never read to its end.
                scope = {**scope, REFUSED: refusal}
                body.truncate(0)
            body.seek(0)
            await self._app(scope, _replay(body), send)

    async def _spool(self, receive: Receive, body: IO[bytes]) -> Refusal | None:
        loop = asyncio.get_running_loop()
        window_ends = loop.time() + self._window_seconds
        in_window = received = 0
        while True:
            now = loop.time()
            if now >= window_ends:
                if in_window < self._min_bytes_per_window:
                    return Refusal.TOO_SLOW
                window_ends, in_window = now + self._window_seconds, 0
            try:
                message = await asyncio.wait_for(receive(), window_ends - now)
            except TimeoutError:
                continue  # the window ended: judged at the top of the loop
            if message["type"] == "http.disconnect":
                raise _ClientGone()
            chunk = message.get("body", b"")
            in_window += len(chunk)
            received += len(chunk)
            if received > self._max_body_bytes:
                return Refusal.TOO_LARGE
            body.write(chunk)
            if not message.get("more_body", False):
                return None


class _ClientGone(Exception):
    """The client hung up before its body was complete."""


def _declared_too_large(scope: Scope, max_body_bytes: int) -> Refusal | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return None  # the HTTP server refuses a malformed length before this
            return Refusal.TOO_LARGE if declared > max_body_bytes else None
    return None


def _replay(body: IO[bytes]) -> Receive:
    async def receive() -> Message:
        chunk = body.read(REPLAY_BYTES)
        return {"type": "http.request", "body": chunk, "more_body": len(chunk) == REPLAY_BYTES}

    return receive
