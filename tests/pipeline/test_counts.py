"""The maintained counts of codes (docs/architecture.md#maintained-counts)
equal a real count(*) after every kind of decision a real worker makes:
TXT uploads of either code type, a CSV file spanning two products and both
types, rejections, dry runs, a confirmed dry run; and what the screens,
the API and /metrics show is what they hold. Races between overlapping
batches are checked in test_races.py, killed workers in tests/faults."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, kept_counts, txt, upload, wait_decided
from tests.pipeline.test_csv_and_dry_run import import_csv
from tests.web.test_paging import login

pytestmark = pytest.mark.usefixtures("workers")
FIRST, SECOND = 6101, 6102


@pytest.fixture
def counter(make_tenant: Any) -> Tenant:
    made: Tenant = make_tenant("counter", (FIRST, SECOND))  # short codes counter-6101, counter-6102
    return made


def decided(client: FlaskClient, tenant: Tenant, response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    body = response.get_json()
    return wait_decided(client, tenant, body.get("id", body.get("job_id")))


def test_the_counts_follow_every_decision_and_equal_a_count_of_the_rows(
    client: FlaskClient, counter: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [f"{FIRST}\tCNT-{n:04d}" for n in range(40)]
    assert decided(client, counter, upload(client, counter, FIRST, txt(*lines)))["status"] == "completed"
    assert_counts_are_exact(sessions)

    evaluation = [f"{FIRST}\tEVAL-{n:03d}\t30" for n in range(7)]
    done = decided(client, counter, upload(client, counter, FIRST, txt(*evaluation), code_type="evaluation"))
    assert done["status"] == "completed"
    assert_counts_are_exact(sessions)

    csv = "license__license_key,product__short_code,license__is_trial\n" + "".join(
        f"CSV-{n:03d},counter-{FIRST if n % 2 else SECOND},{'true' if n % 3 == 0 else 'false'}\n" for n in range(30)
    )
    assert decided(client, counter, import_csv(client, counter, csv))["status"] == "completed"
    assert_counts_are_exact(sessions)

    # Rejected (a code already stored, a bad line) and dry runs store nothing, and count nothing.
    before = kept_counts_of(sessions)
    rejected = decided(client, counter, upload(client, counter, FIRST, txt(lines[0], f"{FIRST}\tNEW-1")))
    assert rejected["status"] == "rejected"
    assert decided(client, counter, upload(client, counter, FIRST, txt(f"{FIRST}\t")))["status"] == "rejected"
    dry = decided(client, counter, upload(client, counter, FIRST, txt(f"{FIRST}\tDRY-1"), dry_run="true"))
    assert dry["status"] == "completed"
    assert kept_counts_of(sessions) == before
    assert_counts_are_exact(sessions)

    confirmed = client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=counter.auth)
    assert decided(client, counter, confirmed)["status"] == "completed"
    assert_counts_are_exact(sessions)
    assert kept_counts_of(sessions) == {
        (FIRST, "activation", "available"): 40 + 10 + 1,
        (FIRST, "evaluation", "available"): 7 + 5,
        (SECOND, "activation", "available"): 10,
        (SECOND, "evaluation", "available"): 5,
    }

    # What the screens, the API and /metrics show.
    codes = client.get(f"/api/v1/products/{FIRST}/codes", headers=counter.auth).get_json()
    assert (codes["total"], codes["total_is_exact"]) == (63, True)
    login(client, counter)
    products = client.get("/products").get_data(as_text=True)
    # Each product's available codes per code type, then its codes in all.
    for activation, evaluation, total in ((51, 12, 63), (10, 5, 15)):
        in_cell = r"(?:(?!</td>).)*"
        cells = rf'<td class="num">{in_cell}Activation {activation}\b{in_cell}Evaluation {evaluation}\b{in_cell}</td>'
        assert re.search(cells + rf'\s*<td class="num">{total}</td>', products, re.S), (activation, evaluation)
    view = client.get(f"/products/{SECOND}/codes").get_data(as_text=True)
    assert "Available: <strong>15</strong>" in view and "Reserved: <strong>0</strong>" in view


def kept_counts_of(sessions: sessionmaker[Session]) -> dict[tuple[int, str, str], int]:
    with sessions() as session:
        return {key: count for key, count in kept_counts(session).items() if key[0] in (FIRST, SECOND)}
