"""Races of generation requests (docs/product.md#generation-requests), run
for many trials on the real PostgreSQL, as tests/pipeline/test_races.py
runs the uploads': real threads, each deciding one claimed request with
its own database sessions, lined up on a barrier.

Two generation requests and an upload of the same product are decided at
once. Random codes of 100 bits never meet by chance, so the test makes them
meet: the first draw of random characters in each generating thread is
scripted (shared.generation.randomness.random_bytes, replaced in this
process only), and spells codes that are already stored, codes made twice
in the request, codes the other generation makes too, and a code the
upload holds. Every later draw, the replacements included, comes from the
operating system as always. What must hold: no code is stored twice, both
generations complete with every line 1..N holding a code of their own, and
the upload completes or is rejected `duplicate_existing` for the code they
share, never anything else.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from shared import loading, states
from shared.config import Settings
from shared.db import make_engine
from shared.generation import randomness
from shared.generation.requests import create_generation
from shared.generation.shape import DEFAULT_ALPHABET, Generation
from shared.models import LicenseCode, Product, UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, at_once, queued_request, txt, with_prefix

PRODUCT = 4811
TRIALS = 60
QUANTITY = 6


@pytest.fixture
def acme(make_tenant: Any, sessions: sessionmaker[Session]) -> Tenant:
    return with_prefix(make_tenant, sessions, "acme", PRODUCT, "AC-")


@pytest.fixture(scope="module")
def workers_engine(settings: Settings) -> Iterator[Engine]:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=9)
    yield engine
    engine.dispose()


class ScriptedFirstDraw:
    """The first draw of each thread spells `parts` (random parts of the
    default alphabet, whose 32 characters take every byte value: byte b is
    character b mod 32); the rest of it and every later draw are the
    operating system's."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._drawn = threading.local()

    def __call__(self, count: int) -> bytes:
        if getattr(self._drawn, "once", False):
            return os.urandom(count)
        self._drawn.once = True
        scripted = bytes(DEFAULT_ALPHABET.index(char) for part in self.parts for char in part)[:count]
        return scripted + os.urandom(count - len(scripted))


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedFirstDraw:
    source = ScriptedFirstDraw()
    monkeypatch.setattr(randomness, "random_bytes", source)
    return source


def code_of(part: str) -> str:
    return "AC-" + "-".join(part[i : i + 5] for i in range(0, 20, 5))


def queued_generation(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    with sessions.begin() as session:
        product = session.get_one(Product, PRODUCT)
        made = create_generation(
            session,
            tenant.publisher_id,
            product,
            Generation(quantity=QUANTITY, product_prefix="AC-"),
            window_minutes=20,
        )
        return made.id


def codes_by_request(sessions: sessionmaker[Session], request_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    with sessions() as session:
        rows = session.execute(
            select(LicenseCode.request_id, LicenseCode.line_no, LicenseCode.code)
            .where(LicenseCode.request_id.in_(request_ids))
            .order_by(LicenseCode.request_id, LicenseCode.line_no)
        ).all()
    found: dict[int, list[tuple[int, str]]] = {request_id: [] for request_id in request_ids}
    for request_id, line, code in rows:
        found[request_id].append((line, code))
    return found


def test_two_generations_and_an_upload_racing_store_no_code_twice_and_the_generations_complete_60_trials(
    sessions: sessionmaker[Session],
    workers_engine: Engine,
    acme: Tenant,
    settings: Settings,
    scripted: ScriptedFirstDraw,
) -> None:
    rng = random.Random(81)

    def part() -> str:
        return "".join(rng.choice(DEFAULT_ALPHABET) for _ in range(20))

    seen: Counter[str] = Counter()
    for trial in range(TRIALS):
        stored_before = part()  # on the server already
        seed = queued_request(sessions, acme, txt(f"{PRODUCT}\t{code_of(stored_before)}"))
        with sessions.begin() as session:
            held = states.claim(session, seed, settings.lease_seconds)
        assert held is not None and loading.decide(workers_engine, held, settings.lease_seconds) == "completed"
        twice, contested, both = part(), part(), part()
        # Each generation's first draw: a stored code, a code made twice, the
        # code the upload holds too, a code the other generation makes too.
        scripted.parts = [stored_before, twice, contested, both, twice]
        upload_codes = [code_of(contested), f"AC-OWN-{trial}-1", f"AC-OWN-{trial}-2"]
        request_ids = [queued_generation(sessions, acme), queued_generation(sessions, acme)]
        request_ids.append(queued_request(sessions, acme, txt(*(f"{PRODUCT}\t{c}" for c in upload_codes))))
        with sessions.begin() as session:
            claims = [states.claim(session, request_id, settings.lease_seconds) for request_id in request_ids]
        assert all(claims)
        delays = [rng.uniform(0, 0.004) for _ in claims]
        decided = dict(
            zip(
                [held.request_id for held in claims if held],
                at_once(
                    *(
                        lambda held=held, wait=wait: _after(wait, held, workers_engine, settings)
                        for held, wait in zip(claims, delays, strict=True)
                    )
                ),
                strict=True,
            )
        )
        first, second, the_upload = request_ids
        assert (decided[first], decided[second]) == ("completed", "completed"), f"trial {trial}: {decided}"
        found = codes_by_request(sessions, request_ids)
        for generation in (first, second):
            assert [line for line, _ in found[generation]] == list(range(1, QUANTITY + 1)), f"trial {trial}"
        with sessions() as session:
            upload = session.get_one(UploadRequest, the_upload)
            total = session.scalar(select(func.count()).select_from(LicenseCode)) or 0
            distinct = session.scalar(select(func.count(func.distinct(LicenseCode.code)))) or 0
        assert total == distinct
        generated = [code for generation in (first, second) for _, code in found[generation]]
        assert len(set(generated)) == 2 * QUANTITY, f"trial {trial}: a code made twice was stored twice"
        assert code_of(stored_before) not in generated, f"trial {trial}"
        if decided[the_upload] == "completed":
            assert [code for _, code in found[the_upload]] == upload_codes, f"trial {trial}"
            assert code_of(contested) not in generated, f"trial {trial}"
            seen["the upload won the contested code"] += 1
        else:
            assert (decided[the_upload], upload.reason_code) == ("rejected", "duplicate_existing"), f"trial {trial}"
            assert found[the_upload] == [] and generated.count(code_of(contested)) == 1, f"trial {trial}"
            seen["a generation won the contested code"] += 1
        assert generated.count(code_of(twice)) == 1 and generated.count(code_of(both)) == 1, f"trial {trial}"
        seen["generations completed"] += 2
    assert_counts_are_exact(sessions)
    print(
        f"\ngenerations against an upload: {TRIALS} trials of two generations and an upload decided at once; "
        f"{seen['generations completed']} generations completed, none rejected, no code stored twice; "
        f"the contested code went to the upload {seen['the upload won the contested code']} times and to a "
        f"generation {seen['a generation won the contested code']} times"
    )
    assert seen["the upload won the contested code"] and seen["a generation won the contested code"], dict(seen)


def _after(wait: float, held: states.Claim | None, engine: Engine, settings: Settings) -> str:
    assert held is not None
    time.sleep(wait)
    return loading.decide(engine, held, settings.lease_seconds)
