"""The demo publisher that `licensecodes serve` creates on first start, so a
newcomer can log in and call the API at once.

Its password and API key are random; they are written to
`<data dir>/demo-credentials.json` (mode 0600) so every later start can print
them again. The database keeps only their hashes, as for any other user.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Publisher
from shared.products import NewProduct, create_product
from shared.tenants import create_api_key, create_publisher, create_user

PUBLISHER_NAME = "demo"
EMAIL = "demo@example.com"
PRODUCT = NewProduct(product_id=1001, short_code="demo", name="Demo Product")
CREDENTIALS_FILE = "demo-credentials.json"


@dataclass(frozen=True)
class DemoCredentials:
    email: str
    password: str
    api_key: str


def ensure_demo(session: Session, data_dir: Path, secret_key: str) -> DemoCredentials | None:
    """Create the demo publisher unless it exists; return its credentials,
    or None when it exists but its credentials file is gone."""
    path = data_dir / CREDENTIALS_FILE
    if session.scalar(select(Publisher.id).where(Publisher.name == PUBLISHER_NAME)) is not None:
        return _read(path)
    publisher = create_publisher(session, PUBLISHER_NAME)
    create_product(session, publisher, PRODUCT)
    password = secrets.token_urlsafe(12)
    create_user(session, publisher, EMAIL, password)
    credentials = DemoCredentials(EMAIL, password, create_api_key(session, publisher, secret_key, "demo"))
    _write(path, credentials)
    return credentials


def _read(path: Path) -> DemoCredentials | None:
    try:
        return DemoCredentials(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _write(path: Path, credentials: DemoCredentials) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(credentials), handle)
