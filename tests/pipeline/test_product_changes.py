"""A product changed while its requests wait (docs/product.md#products): a
request is checked and stored by the prefix and expiry defaults it was made
with, a request made after the change by the new ones, and the codes
already stored keep theirs. The requests are decided by the worker's own
task called in this process, so that they wait in the queue, for certain,
until the test lets them go."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import Tenant
from tests.pipeline.conftest import txt, upload

PRODUCT = 5101
STUDIO = {"product_id": PRODUCT, "short_code": "studio", "name": "Studio", "prefix": "OLD-"}


def decide_all(process_upload: Callable[[int], str]) -> None:
    """Decide every queued request, as idle workers would."""
    for _ in range(20):
        if process_upload(1) == "not claimed":
            return
    raise AssertionError("requests were still queued after 20 runs")


def codes(client: FlaskClient, tenant: Tenant) -> dict[str, int]:
    page = client.get(f"/api/v1/products/{PRODUCT}/codes?limit=500", headers=tenant.auth).get_json()
    return {item["code"]: item["expiry_days"] for item in page["items"]}


def csv_import(client: FlaskClient, tenant: Tenant, content: bytes) -> Any:
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), "codes.csv")})
    return client.post(
        "/api/v1/licenses/import_from_csv/",
        data=body,
        headers=tenant.auth,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_waiting_request_keeps_the_rules_it_was_made_with_and_a_later_one_gets_the_new(
    client: FlaskClient, make_tenant: Any, process_upload: Callable[[int], str]
) -> None:
    acme = make_tenant("Acme")
    assert client.post("/api/v1/products", json=STUDIO, headers=acme.auth).status_code == 201
    stored = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tOLD-0")).get_json()["id"]
    decide_all(process_upload)
    # Made under OLD- and 365 days, still waiting when the product changes:
    waiting = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tOLD-1", f"{PRODUCT}\tOLD-2\t7")).get_json()["id"]
    waiting_csv = csv_import(client, acme, b"license__license_key,product__short_code\nOLD-3,studio\n").get_json()
    checked = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tOLD-4"), dry_run="true").get_json()["id"]

    changes = {"prefix": "NEW-", "activation_expiry_days": 400}
    assert client.patch(f"/api/v1/products/{PRODUCT}", json=changes, headers=acme.auth).status_code == 200
    # Made under NEW- and 400 days:
    new = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tNEW-1")).get_json()["id"]
    old_code = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tOLD-5")).get_json()["id"]
    decide_all(process_upload)
    # A confirmation is a request made now: checked again, by the rules of now.
    confirmed = client.post(f"/api/v1/uploads/{checked}/confirm", headers=acme.auth).get_json()["id"]
    decide_all(process_upload)

    ids = (stored, waiting, waiting_csv["job_id"], checked, new, old_code, confirmed)
    outcome = [client.get(f"/api/v1/uploads/{n}", headers=acme.auth).get_json() for n in ids]
    assert [(request["status"], request["reason_code"]) for request in outcome] == [
        ("completed", None),
        ("completed", None),
        ("completed", None),
        ("completed", None),
        ("completed", None),
        ("rejected", "prefix_missing"),
        ("rejected", "prefix_missing"),
    ]
    assert codes(client, acme) == {"OLD-0": 365, "OLD-1": 365, "OLD-2": 7, "OLD-3": 365, "NEW-1": 400}
