"""Bodies meant to exhaust the server are refused cleanly and early, and
leave nothing stored."""

from __future__ import annotations

import dataclasses
import gzip
import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.models import UploadBlob, UploadRequest
from tests.web.test_api import assert_api_error
from web import create_app

PRODUCT = 1234
BOUNDARY = "abuse"


class CountingBody(io.RawIOBase):
    """A request body of `size` bytes, made up as it is read, that records
    how far it was read (seekable: the test client measures it)."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size, self.position, self.read_bytes = head, size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        head = self.head[self.position : self.position + count]
        buffer[:count] = head + b"x" * (count - len(head))
        self.position += count
        self.read_bytes = max(self.read_bytes, self.position)
        return count


@pytest.fixture
def small_limit(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[FlaskClient]:
    yield create_app(dataclasses.replace(settings, max_upload_mb=1)).test_client()


def nothing_stored(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return not session.scalar(select(func.count()).select_from(UploadRequest)) and not session.scalar(
            select(func.count()).select_from(UploadBlob)
        )


def file_part_head() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()


def post(client: FlaskClient, tenant: Any, body: Any, **headers: str) -> Any:
    return client.post(
        f"/api/v1/products/{PRODUCT}/uploads",
        input_stream=body,
        headers={**tenant.auth, **headers},
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(
    small_limit: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    tenant = make_tenant("acme", (PRODUCT,))
    body = CountingBody(file_part_head(), 50 * 2**20)
    response = post(small_limit, tenant, body, **{"Content-Length": str(body.size)})
    assert "larger than the limit of 1 MB" in assert_api_error(response, 413, "file_too_large")
    assert body.read_bytes < 2**20
    assert nothing_stored(sessions)


def test_a_file_part_over_the_limit_is_refused_as_it_passes_it(
    small_limit: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    """A body within the allowance for multipart overhead, whose file is not."""
    tenant = make_tenant("acme", (PRODUCT,))
    body = CountingBody(file_part_head(), 2**20 + 60 * 1024)
    response = post(small_limit, tenant, body)
    assert_api_error(response, 413, "file_too_large")
    assert nothing_stored(sessions)


def test_a_thousand_multipart_parts_are_refused(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    tenant = make_tenant("acme", (PRODUCT,))
    parts = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nv\r\n' for n in range(1000))
    response = post(client, tenant, io.BytesIO(f"{parts}--{BOUNDARY}--\r\n".encode()))
    # Not file_too_large: the body is small, its shape is what is wrong.
    assert "more than 16 parts" in assert_api_error(response, 400, "bad_request")
    assert nothing_stored(sessions)


def test_a_compressed_body_is_refused_with_415(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    tenant = make_tenant("acme", (PRODUCT,))
    plain = file_part_head() + b"1234\tCODE-1\r\n" * 1000 + f"\r\n--{BOUNDARY}--\r\n".encode()
    response = post(client, tenant, io.BytesIO(gzip.compress(plain)), **{"Content-Encoding": "gzip"})
    message = assert_api_error(response, 415, "unsupported_media_type")
    assert "Content-Encoding: gzip" in message
    assert nothing_stored(sessions)
