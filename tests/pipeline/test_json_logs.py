"""The real worker's log (LOG_FORMAT unset: JSON) as a log collector reads
it: one JSON object a line, the request and publisher named, no code."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import Tenant
from tests.pipeline.conftest import WorkerProcesses, txt, upload, wait_decided

PRODUCT = 2468
CODE = "JSON-LOG-CODE-0001"


def test_a_worker_line_is_json_naming_the_request_and_publisher(
    client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    tenant: Tenant = make_tenant("jsonlogs", (PRODUCT,))
    # The workers serve the whole session and request ids restart at 1 in
    # every test: read only what this test's request made them write.
    written_before = len(workers.log())
    request_id = upload(client, tenant, PRODUCT, txt(f"{PRODUCT}\t{CODE}")).get_json()["id"]
    assert wait_decided(client, tenant, request_id)["status"] == "completed"

    log = workers.log()[written_before:]
    lines = [json.loads(line) for line in log.splitlines() if f'"upload {request_id}: ' in line]
    messages = [line["message"] for line in lines]
    assert f"upload {request_id}: completed" in messages  # what tests/faults greps for
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= line.keys()
        assert line["request_id"] == request_id
        assert line["publisher_id"] == tenant.publisher_id
    assert CODE not in log
    assert tenant.api_key not in log
