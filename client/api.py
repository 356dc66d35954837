"""The calls of the REST API (docs/product.md#the-rest-api) that the client makes, over
requests. Every failure leaves as a ClientError whose message says what
happened in a sentence, never as a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from client.errors import ClientError, RateLimited, Refused

DEFAULT_URL = "http://127.0.0.1:8000"
CHUNK_BYTES = 64 * 1024
# Connecting should be quick; a response may wait for a large body to be read.
TIMEOUTS = (10, 300)
# Marks the answer to a take that an earlier call with the same reference made.
REPLAYED_HEADER = "Idempotent-Replayed"
# Statuses that are about the file or the request itself, not about reaching the server.
_REFUSALS = frozenset({400, 409, 413, 415, 422})


class PublisherApi:
    """One publisher's session with one server."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"

    def __enter__(self) -> PublisherApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._session.close()

    def product(self, product_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/products/{product_id}")

    def upload(
        self, path: Path, product_id: int, *, evaluation: bool, dry_run: bool, on_sent: Callable[[int], None]
    ) -> dict[str, Any]:
        """Send the file, read in chunks as the socket takes them; on_sent
        hears the bytes of the body sent so far."""
        with path.open("rb") as file:
            fields = {
                "file": (path.name, file, "application/octet-stream"),
                "code_type": "evaluation" if evaluation else "activation",
                "dry_run": "true" if dry_run else "false",
            }
            body = MultipartEncoderMonitor(MultipartEncoder(fields), lambda monitor: on_sent(monitor.bytes_read))
            headers = {"Content-Type": body.content_type}
            return self._json("POST", f"/api/v1/products/{product_id}/uploads", data=body, headers=headers)

    def generate(self, product_id: int, asked: dict[str, Any]) -> dict[str, Any]:
        """Ask for codes to be made (docs/api.md#generate-codes): the queued request."""
        return self._json("POST", f"/api/v1/products/{product_id}/generations", json=asked)

    def upload_request(self, upload_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/uploads/{upload_id}")

    def take(self, product_id: int, ask: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Take codes for a reference: the allocation, and whether an earlier
        call with the same reference made it (then nothing was taken now)."""
        path = f"/api/v1/products/{product_id}/allocations"
        response = self._call("POST", path, json=ask)
        return self._body(response, path), response.headers.get(REPLAYED_HEADER) == "true"

    def stock(self, product_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/products/{product_id}/stock")

    def stream(self, path: str) -> Iterator[bytes]:
        """The body of a download, chunk by chunk; the call is made before
        the first chunk is asked for, so errors come out at once."""
        response = self._call("GET", path, stream=True)

        def chunks() -> Iterator[bytes]:
            with response:
                try:
                    yield from response.iter_content(CHUNK_BYTES)
                except requests.RequestException as error:
                    raise ClientError(f"the download from {self.url} broke off: {_reason(error)}") from None

        return chunks()

    def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        return self._body(self._call(method, path, **options), path)

    def _body(self, response: requests.Response, path: str) -> dict[str, Any]:
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise ClientError(f"{self.url}{path} did not return JSON: is {self.url} a licensecodes server?") from None
        return body

    def _call(self, method: str, path: str, **options: Any) -> requests.Response:
        try:
            response = self._session.request(method, self.url + path, timeout=TIMEOUTS, **options)
        except requests.Timeout:
            raise ClientError(f"the server at {self.url} did not answer in time") from None
        except requests.RequestException as error:
            raise ClientError(f"cannot reach the server at {self.url}: {_reason(error)}") from None
        if response.status_code >= 400:
            with response:
                raise _error_for(response)
        return response


def _error_for(response: requests.Response) -> ClientError:
    status, message = response.status_code, _message_of(response)
    if status == 429:
        return RateLimited(f"too many calls: {message}", float(response.headers.get("Retry-After") or 1))
    if status in _REFUSALS:
        return Refused(message)
    if status in (401, 403):
        return ClientError(f"the server refused the API key ({status}): {message}")
    return ClientError(f"the server responded {status} {response.reason}: {message}")


def _message_of(response: requests.Response) -> str:
    """The sentence of the API's `{"error": {"code", "message"}}`, or what
    a proxy in front of it said."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200] or str(response.reason)


def _reason(error: requests.RequestException) -> str:
    """`Connection refused` rather than urllib3's nested retry report."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return found.group(1).strip() if found else type(error).__name__
