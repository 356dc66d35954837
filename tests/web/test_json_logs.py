"""Web log lines name the upload request of the URL and the caller's
publisher (shared.log_context), in the JSON of shared.log_setup."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Response
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.log_context import ContextFilter
from shared.log_setup import logging_config
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt

PRODUCT = 1357


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger, for the test, writing as the service's JSON handler."""
    formatter_config = dict(logging_config("json")["formatters"]["json"])
    factory = formatter_config.pop("()")
    assert factory == "pythonjsonlogger.json.JsonFormatter"
    from pythonjsonlogger.json import JsonFormatter

    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter(**formatter_config))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield written
    root.removeHandler(handler)
    root.setLevel(level)


def test_an_api_line_names_the_request_and_the_publisher(
    settings: Settings, sessions: sessionmaker[Session], make_tenant: Any, json_log: io.StringIO
) -> None:
    from web import create_app

    tenant: Tenant = make_tenant("weblogs", (PRODUCT,))
    request_id = queued_request(sessions, tenant, txt(f"{PRODUCT}\tWEB-LOG-CODE-1"))
    app = create_app(settings)

    @app.after_request
    def log_something(response: Response) -> Response:
        logging.getLogger("web.probe").info("answered %s", response.status_code)
        return response

    client = app.test_client()
    assert client.get(f"/api/v1/uploads/{request_id}", headers=tenant.auth).status_code == 200
    assert client.get("/healthz").status_code == 200  # the same thread, about nothing

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    probes = [line for line in lines if line["logger"] == "web.probe"]
    assert len(probes) == 2
    about_upload, about_nothing = probes
    assert about_upload["message"] == "answered 200"
    assert about_upload["request_id"] == request_id
    assert about_upload["publisher_id"] == tenant.publisher_id
    assert "request_id" not in about_nothing and "publisher_id" not in about_nothing
    assert tenant.api_key not in json_log.getvalue()
    assert "WEB-LOG-CODE-1" not in json_log.getvalue()
