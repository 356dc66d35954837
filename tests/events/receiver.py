"""A real HTTP receiver of webhooks on 127.0.0.1, run in a thread by the
test: it verifies each message with the `standardwebhooks` library, as a
publisher's system would, and answers as the test tells it to (a status,
or a wait longer than the delivery's timeout)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ENDLESS_CHUNK = b"abcdefghijklmnopqrstuvwxyz" * 1024


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # when it arrived (Unix seconds)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    # What to do with each next request, in turn: a status code, "hang"
    # (wait past the delivery's timeout), or "endless" (a 200 whose body
    # never ends, until the sender hangs up); 200 once they are used up.
    answers: list[int | str] = field(default_factory=list)
    # How long a "hang" waits before it answers: past WEBHOOK_TIMEOUT_SECONDS (1 s in the tests).
    hang_seconds: float = 2.5
    # Where an answer of 3xx points (its Location header).
    redirect_to: str = ""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verified(self, secret: str) -> list[Any]:
        """Each message received, verified with the secret (raises if one is not)."""
        return [Webhook(secret).verify(one.body, one.headers) for one in self.received]

    def verifies(self, secret: str, one: Received) -> bool:
        try:
            Webhook(secret).verify(one.body, one.headers)
        except WebhookVerificationError:
            return False
        return True

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


@contextmanager
def receiver(path: str = "/hooks") -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.received.append(Received({k: v for k, v in self.headers.items()}, body))
                answer = state.answers.pop(0) if state.answers else 200
            if answer == "hang":
                time.sleep(state.hang_seconds)
                answer = 200
            if answer == "endless":
                self._endless()
                return
            try:
                self.send_response(int(answer))
                if 300 <= int(answer) < 400:
                    self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the delivery gave up waiting: what a hang is for

        def _endless(self) -> None:
            """A 200 with no length, then the alphabet for as long as the
            sender reads (a minute at most)."""
            self.send_response(200)
            self.end_headers()
            until = time.monotonic() + 60
            try:
                while time.monotonic() < until:
                    self.wfile.write(ENDLESS_CHUNK)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender read what it wanted and hung up

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
