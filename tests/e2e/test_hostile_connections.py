"""One client's slow or idle connections never take the web tier away from
the others (docs/architecture.md#the-web-tier): a real web server process,
two workers, 200 connections that trickle or stall their headers and 20
upload bodies sent at 100 bytes a second, while another publisher calls the
API."""

from __future__ import annotations

import http.client
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from shared.config import Settings
from tests.e2e.processes import web_server

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 10
BODY_WINDOW = 30
SLACK = 5  # seconds the server may take beyond a timeout on this shared machine


@pytest.fixture
def server(settings: Settings) -> Iterator[int]:
    """`licensecodes web` as `make run` starts it: two processes of four threads."""
    with web_server(settings, workers=2, threads=4) as port:
        yield port


class HostileClient:
    """Opens the attacking connections and notes when the server closes each."""

    def __init__(self, port: int, api_key: str, product_id: int) -> None:
        self._port = port
        self._selector = selectors.DefaultSelector()
        self.opened_at: dict[socket.socket, float] = {}
        self.closed_after: dict[str, list[float]] = {"trickling": [], "stalled": [], "slow body": []}
        self.answers: list[bytes] = []
        self._kinds: dict[socket.socket, str] = {}
        self._pending: dict[socket.socket, bytes] = {}
        self._upload_head = (
            f"POST /api/v1/products/{product_id}/uploads HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {api_key}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: 1000000\r\n\r\n"
        ).encode()

    def open(self, kind: str, first: bytes, rest: bytes) -> None:
        sock = socket.create_connection(("127.0.0.1", self._port))
        sock.sendall(first)
        sock.setblocking(False)
        self._kinds[sock] = kind
        self._pending[sock] = rest
        self.opened_at[sock] = time.monotonic()
        self._selector.register(sock, selectors.EVENT_READ)

    def open_all(self) -> None:
        for _ in range(100):  # the headers, a byte a second: never complete in time
            self.open("trickling", b"G", b"ET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100)
        for _ in range(100):  # half the headers, then nothing
            self.open("stalled", b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"")
        for _ in range(20):  # a 1 MB upload body at 100 bytes a second
            self.open("slow body", self._upload_head, b"--b\r\n" + b"x" * 999_990)

    def run(self, seconds: float) -> None:
        """Trickle every second and note each close, until all are closed or time is up."""
        deadline = time.monotonic() + seconds
        next_trickle = time.monotonic() + 1
        while self.opened_at and time.monotonic() < deadline:
            for key, _ in self._selector.select(timeout=0.1):
                self._read(key.fileobj)  # type: ignore[arg-type]
            if time.monotonic() >= next_trickle:
                next_trickle += 1
                for sock, rest in list(self._pending.items()):
                    size = 1 if self._kinds[sock] == "trickling" else 100
                    if rest and sock in self.opened_at:
                        try:
                            sock.send(rest[:size])
                        except OSError:
                            self._closed(sock)
                            continue
                        self._pending[sock] = rest[size:]

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.answers.append(data.split(b"\r\n", 1)[0])
            return
        self._closed(sock)

    def _closed(self, sock: socket.socket) -> None:
        opened = self.opened_at.pop(sock)
        self.closed_after[self._kinds[sock]].append(time.monotonic() - opened)
        self._selector.unregister(sock)
        sock.close()


def test_slow_and_idle_connections_do_not_delay_another_client_and_are_closed_in_time(
    server: int,
    make_tenant,  # type: ignore[no-untyped-def]
) -> None:
    attacker = make_tenant("Attacker", (1001,))
    other = make_tenant("Other", (2001,))
    hostile = HostileClient(server, attacker.api_key, 1001)
    hostile.open_all()
    attack = threading.Thread(target=hostile.run, args=(BODY_WINDOW + 3 * SLACK,))
    attack.start()

    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.monotonic() + BODY_WINDOW + SLACK
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
        started = time.monotonic()
        connection.request("GET", "/api/v1/products", headers={"Authorization": f"Bearer {other.api_key}"})
        response = connection.getresponse()
        response.read()
        latencies.append(time.monotonic() - started)
        statuses.append(response.status)
        connection.close()
        time.sleep(0.2)
    attack.join()

    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(
        f"\nanother client: {len(latencies)} calls, median {statistics.median(latencies) * 1000:.0f} ms,"
        f" p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    for kind, closed in hostile.closed_after.items():
        print(
            f"{kind}: {len(closed)} closed by the server, after {min(closed, default=0):.1f}"
            f" to {max(closed, default=0):.1f} s"
        )
    assert set(statuses) == {200}
    assert p95 < 0.3
    assert not hostile.opened_at, f"{len(hostile.opened_at)} attacking connections still open"
    assert len(hostile.closed_after["trickling"]) == len(hostile.closed_after["stalled"]) == 100
    assert max(hostile.closed_after["trickling"] + hostile.closed_after["stalled"]) < HEADER_TIMEOUT + SLACK
    assert len(hostile.closed_after["slow body"]) == 20
    assert BODY_WINDOW - 1 < min(hostile.closed_after["slow body"])
    assert max(hostile.closed_after["slow body"]) < BODY_WINDOW + SLACK
    # Each slow upload is told why it was closed, in the API's terms.
    assert hostile.answers.count(b"HTTP/1.1 408 ") == 20
