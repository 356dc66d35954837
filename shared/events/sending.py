"""One POST of a message to a checked address (shared.events.addresses):
the connection goes to the address that was checked, while the request
and TLS still name the URL's host, so a DNS answer that changed since the
check cannot send it elsewhere. No redirect is followed, the whole
exchange has `timeout` seconds, and at most 64 KB of the answer is read
(docs/product.md#events-signed-webhooks). urllib3 (under requests) does
the HTTP: it lets the address and the TLS server name be given apart."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError

from shared.events.addresses import Target

MAX_READ_BYTES = 64 * 1024
KEPT_BYTES = 1024
_CHUNK = 8192


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    response: str  # the first KEPT_BYTES of the answer, as text
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def post(target: Target, headers: Mapping[str, str], body: bytes, timeout: float) -> Outcome:
    """Try the checked addresses in turn until one connects; the outcome of the exchange."""
    started = time.monotonic()
    error = "no address to connect to"
    for address in target.addresses:
        try:
            return _post_to(address, target, headers, body, started + timeout, started)
        except urllib3.exceptions.NewConnectionError as failed:
            error = _described(failed)  # this address refused: the next may take it
        except (HTTPError, OSError) as failed:
            return Outcome(None, "", _described(failed), _ms(started))
    return Outcome(None, "", error, _ms(started))


def _post_to(
    address: str, target: Target, headers: Mapping[str, str], body: bytes, deadline: float, started: float
) -> Outcome:
    pool = _pool(address, target, deadline - time.monotonic())
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            head, finished = _read(response, deadline)
        finally:
            response.close()
    finally:
        pool.close()
    error = None if finished else f"the answer took longer than the timeout; read {len(head)} bytes"
    kept = head[:KEPT_BYTES].decode("utf-8", "replace").replace("\x00", "")  # PostgreSQL text holds no NUL
    return Outcome(response.status, kept, error, _ms(started))


def _pool(address: str, target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    limit = urllib3.Timeout(total=max(timeout, 0.001))
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, target.port, timeout=limit, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host,
        )  # fmt: skip
    return urllib3.HTTPConnectionPool(address, target.port, timeout=limit, retries=False, maxsize=1)


def _read(response: urllib3.BaseHTTPResponse, deadline: float) -> tuple[bytes, bool]:
    """At most MAX_READ_BYTES of the body; whether it came within the deadline."""
    head = b""
    while len(head) < MAX_READ_BYTES:
        if time.monotonic() > deadline:
            return head, False
        chunk = response.read(min(_CHUNK, MAX_READ_BYTES - len(head)))
        if not chunk:
            break
        head += chunk
    return head, True


def _described(failed: Exception) -> str:
    reason = getattr(failed, "reason", None) or failed
    return f"{type(failed).__name__}: {reason}"[:500]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
