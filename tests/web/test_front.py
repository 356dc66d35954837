"""The buffering front (web.serving.front) on its own: what the app sees of
bodies that arrive whole, too large, too slowly, or not at all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from web.serving.front import REFUSED, REPLAY_BYTES, SPOOL_IN_MEMORY_BYTES, BufferingFront, Refusal


class App:
    """An ASGI app that reads the whole body it is handed and notes it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body += message["body"]
            if not message["more_body"]:
                break
        self.calls.append((scope.get(REFUSED), bytes(body)))


def _scope(content_length: int | None = None) -> dict[str, Any]:
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    return {"type": "http", "method": "POST", "path": "/", "headers": headers}


def _client(chunks: list[bytes], pause: float = 0.0, then_disconnect: bool = False) -> Any:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1 or then_disconnect}
        for index, chunk in enumerate(chunks)
    ]
    if then_disconnect:
        messages.append({"type": "http.disconnect"})
    received = iter(messages)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(pause)
        return next(received)

    return receive


async def _no_send(message: Any) -> None:
    raise AssertionError("the front itself never answers")


def _run(front: BufferingFront, scope: dict[str, Any], receive: Any) -> None:
    asyncio.run(front(scope, receive, _no_send))


@pytest.mark.parametrize(
    "size", [0, 1, REPLAY_BYTES - 1, REPLAY_BYTES, REPLAY_BYTES + 1, SPOOL_IN_MEMORY_BYTES * 3 + 7]
)
def test_the_app_reads_the_body_byte_for_byte_once_it_has_all_arrived(size: int) -> None:
    body = bytes(index % 251 for index in range(size))
    chunks = [body[start : start + 65_000] for start in range(0, size, 65_000)] or [b""]
    app = App()
    _run(BufferingFront(app, max_body_bytes=size), _scope(size), _client(chunks))
    assert app.calls == [(None, body)]


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body() -> None:
    app = App()

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    _run(BufferingFront(app, max_body_bytes=100), _scope(101), receive)
    assert app.calls == [(Refusal.TOO_LARGE, b"")]


def test_a_body_that_grows_past_the_limit_is_refused_and_none_of_it_reaches_the_app() -> None:
    app = App()
    _run(BufferingFront(app, max_body_bytes=100), _scope(), _client([b"x" * 60, b"x" * 60, b"x"]))
    assert app.calls == [(Refusal.TOO_LARGE, b"")]


def test_a_body_slower_than_the_minimum_rate_over_a_window_is_refused() -> None:
    app = App()
    front = BufferingFront(app, max_body_bytes=10_000, window_seconds=0.3, min_bytes_per_window=100)
    _run(front, _scope(), _client([b"x" * 10] * 40, pause=0.05))
    assert app.calls == [(Refusal.TOO_SLOW, b"")]


def test_a_body_that_stops_arriving_is_refused_when_the_window_ends() -> None:
    app = App()
    front = BufferingFront(app, max_body_bytes=10_000, window_seconds=0.2, min_bytes_per_window=100)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(60)
        raise AssertionError("not refused in time")

    _run(front, _scope(), receive)
    assert app.calls == [(Refusal.TOO_SLOW, b"")]


def test_a_slow_body_that_keeps_the_minimum_rate_in_every_window_is_passed_on_whole() -> None:
    app = App()
    front = BufferingFront(app, max_body_bytes=10_000, window_seconds=0.3, min_bytes_per_window=100)
    chunks = [b"y" * 50] * 12  # 50 bytes every 0.05 s: 300 bytes a window
    _run(front, _scope(), _client(chunks, pause=0.05))
    assert app.calls == [(None, b"y" * 600)]


def test_a_client_that_hangs_up_mid_body_reaches_no_app() -> None:
    app = App()
    _run(BufferingFront(app, max_body_bytes=1000), _scope(), _client([b"half"], then_disconnect=True))
    assert app.calls == []


def test_lifespan_messages_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(BufferingFront(app, max_body_bytes=1)({"type": "lifespan"}, _client([b""]), _no_send))
    assert seen == ["lifespan"]


def test_the_app_answers_a_refusal_in_the_api_s_terms_before_anything_else(client, make_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("Acme", (1001,))
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    slow = client.post(
        "/api/v1/products/1001/uploads",
        headers=headers,
        environ_base={"asgi.scope": {REFUSED: Refusal.TOO_SLOW}},
    )
    assert slow.status_code == 408
    assert slow.json["error"]["code"] == "request_too_slow"
    assert "slower than 1 KB/s over 30 s" in slow.json["error"]["message"]
    large = client.post(
        "/api/v1/products/1001/uploads",
        headers=headers,
        environ_base={"asgi.scope": {REFUSED: Refusal.TOO_LARGE}},
    )
    assert large.status_code == 413
    assert large.json["error"]["code"] == "file_too_large"


def test_a_screen_gets_the_refusal_as_a_page(client) -> None:  # type: ignore[no-untyped-def]
    page = client.post("/login", environ_base={"asgi.scope": {REFUSED: Refusal.TOO_SLOW}})
    assert page.status_code == 408
    assert page.mimetype == "text/html"
    assert b"faster or steadier connection" in page.data
