"""Races of docs/product.md#processing, each run for many trials (the counts are in the
test names) on the real PostgreSQL: real threads, each with its own
database session, lined up on a barrier.

- The same message delivered to several workers at once: one claims, one
  decides, the codes are stored once.
- A publisher's delete against a worker's claim: exactly one wins, and over
  the trials each side wins sometimes.
- Batches that share codes, decided at once: at most one of an overlapping
  pair completes, the other is rejected `duplicate_existing`, and nothing
  else (a deadlock, say) reaches anyone; batches that share nothing all
  complete.
- Rejections of one publisher for another publisher's codes, decided at
  once: together they name no more of those codes than the day's budget.

Each test prints what it saw (`pytest -s`), for the record. The files are
small: the races are in the claim, the delete and the insert, not in
reading, so small files give many trials in a few seconds, and the module
(about a minute on two cores) runs in `make test`, not only with the faults.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from shared import loading, states
from shared.config import Settings
from shared.db import make_engine
from shared.errors import Conflict
from shared.models import LicenseCode, UploadRequest
from shared.uploads import delete_upload
from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, at_once, queued_request, txt

PRODUCT = 4711
DELIVERIES = 6  # copies of one message, each taken by a worker at the same moment
CLAIM_TRIALS = 200
DELETE_TRIALS = 240
BATCHES = 4  # requests decided at once in a trial of the batch races
OWN_CODES = 20  # codes a batch shares with no other
OVERLAP_TRIALS = 120
DISJOINT_TRIALS = 60
RIVAL_PRODUCT = 4712
BUDGET_TRIALS = 60
BUDGET = 30  # foreign codes named a day: less than the four requests of a trial find together
FOREIGN_EACH = 20  # another publisher's codes in each request of a budget trial

Task = Callable[[int], str]


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


@pytest.fixture(scope="module")
def workers_engine(settings: Settings) -> Iterator[Engine]:
    """The deciding workers' connections: a pool that holds all of them
    (a decision uses three at its peak), so that no trial pays for new ones."""
    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=3 * BATCHES)
    yield engine
    engine.dispose()


def request_row(sessions: sessionmaker[Session], request_id: int) -> UploadRequest:
    with sessions() as session:
        return session.get_one(UploadRequest, request_id)


def stored_codes(sessions: sessionmaker[Session], request_id: int) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(LicenseCode.code).where(LicenseCode.request_id == request_id).order_by(LicenseCode.line_no)
            )
        )


def total_codes(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(LicenseCode)) or 0


def lines_of(codes: list[str]) -> bytes:
    return txt(*(f"{PRODUCT}\t{code}" for code in codes))


def test_a_message_delivered_to_six_workers_at_once_is_claimed_once_and_stored_once_200_trials(
    sessions: sessionmaker[Session], acme: Tenant, process_upload: Task
) -> None:
    outcomes: Counter[str] = Counter()
    for trial in range(CLAIM_TRIALS):
        codes = [f"ONCE{trial}-{n}" for n in range(3)]
        request_id = queued_request(sessions, acme, lines_of(codes))
        delivered = at_once(*[lambda: process_upload(request_id)] * DELIVERIES)  # noqa: B023
        # "not claimed": the task's claim answered None.
        assert sorted(map(str, delivered)) == ["completed"] + ["not claimed"] * (DELIVERIES - 1), (
            f"trial {trial}: {delivered}"
        )
        request = request_row(sessions, request_id)
        # The database's own count of claims: one UPDATE matched.
        assert (request.status, request.attempts, request.code_count) == ("completed", 1, 3), f"trial {trial}"
        assert stored_codes(sessions, request_id) == codes, f"trial {trial}"
        outcomes["single claim"] += 1
    assert total_codes(sessions) == 3 * CLAIM_TRIALS
    assert_counts_are_exact(sessions)
    print(f"\nclaim race: {CLAIM_TRIALS} trials of {DELIVERIES} deliveries, {outcomes['single claim']} single claims")


def test_a_delete_racing_a_claim_240_trials_exactly_one_wins_and_each_side_wins_sometimes(
    sessions: sessionmaker[Session], acme: Tenant, process_upload: Task
) -> None:
    def delete(request_id: int) -> str:
        """The delete the API and the screens make (web/upload_actions.py)."""
        with sessions.begin() as session:
            delete_upload(session, acme.publisher_id, request_id)
        return "deleted"

    def after(delay: float, call: Callable[[], object]) -> object:
        time.sleep(delay)
        return call()

    # Left at the barrier, the delete wins most races (the claim's path is
    # longer); a head start of up to 3 ms for one side or the other makes
    # both outcomes common, and the seed makes a failure reproducible.
    rng = random.Random(62)
    won: Counter[str] = Counter()
    by_start: Counter[tuple[str, str]] = Counter()
    for trial in range(DELETE_TRIALS):
        codes = [f"DEL{trial}-{n}" for n in range(2)]
        request_id = queued_request(sessions, acme, lines_of(codes))
        head_start = ("none", "claim", "delete")[trial % 3]
        claim_delay = rng.uniform(0, 0.003) if head_start == "delete" else 0.0
        delete_delay = rng.uniform(0, 0.003) if head_start == "claim" else 0.0
        claimed, deleted = at_once(
            lambda: after(claim_delay, lambda: process_upload(request_id)),  # noqa: B023
            lambda: after(delete_delay, lambda: delete(request_id)),  # noqa: B023
        )
        request = request_row(sessions, request_id)
        if deleted == "deleted":
            assert claimed == "not claimed", f"trial {trial}: both won ({claimed!r})"
            assert (request.status, request.attempts, request.blob_id) == ("deleted", 0, None), f"trial {trial}"
            assert stored_codes(sessions, request_id) == [], f"trial {trial}"
            winner = "delete"
        else:
            assert claimed == "completed", f"trial {trial}: neither won ({claimed!r}, {deleted!r})"
            assert isinstance(deleted, Conflict), f"trial {trial}: {deleted!r}"
            # The documented refusal (the API's 409): only a queued upload can go.
            pattern = rf"upload {request_id} is (processing|completed); only a queued upload can be deleted"
            assert re.fullmatch(pattern, str(deleted)), f"trial {trial}: {deleted}"
            assert (request.status, request.attempts) == ("completed", 1), f"trial {trial}"
            assert stored_codes(sessions, request_id) == codes, f"trial {trial}"
            winner = "claim"
        won[winner] += 1
        by_start[head_start, winner] += 1
    print(
        f"\ndelete against claim: {DELETE_TRIALS} trials, the claim won {won['claim']}, "
        f"the delete won {won['delete']}, never both or neither; by head start {dict(sorted(by_start.items()))}"
    )
    assert won["claim"] >= 1 and won["delete"] >= 1, f"one side never won: {dict(won)}"


def batch_files(rng: random.Random, trial: int, overlaps: set[tuple[int, int]]) -> list[list[str]]:
    """BATCHES files of codes of their own, and for each overlapping pair one
    to three codes that both hold. The codes sort in a random order, so a
    shared code may come first, last or between a file's own; each file is
    in a random line order."""
    files: list[list[str]] = [
        [f"{rng.randrange(10**6):06d}-T{trial}-R{i}-{n}" for n in range(OWN_CODES)] for i in range(BATCHES)
    ]
    for first, second in sorted(overlaps):
        for n in range(rng.randint(1, 3)):
            shared = f"{rng.randrange(10**6):06d}-T{trial}-S{first}{second}-{n}"
            files[first].append(shared)
            files[second].append(shared)
    for codes in files:
        rng.shuffle(codes)
    return files


def decide_at_once(
    sessions: sessionmaker[Session], engine: Engine, tenant: Tenant, settings: Settings, files: list[list[str]]
) -> tuple[list[int], list[object]]:
    """Queue one request a file, claim each for a worker of its own, and
    let the workers decide them all at the same moment."""
    request_ids = [queued_request(sessions, tenant, lines_of(codes)) for codes in files]
    with sessions.begin() as session:
        claims = [states.claim(session, request_id, settings.lease_seconds) for request_id in request_ids]
    assert all(claims)
    decided = at_once(*(lambda held=held: loading.decide(engine, held, settings.lease_seconds) for held in claims))
    return request_ids, decided


def test_overlapping_batches_decided_at_once_120_trials_at_most_one_of_a_pair_completes_and_nothing_else_fails(
    sessions: sessionmaker[Session], workers_engine: Engine, acme: Tenant, settings: Settings
) -> None:
    rng = random.Random(63)
    seen: Counter[str] = Counter()
    expected_codes = 0
    for trial in range(OVERLAP_TRIALS):
        # Each pair overlaps with even odds, at least one pair a trial.
        pairs = list(combinations(range(BATCHES), 2))
        overlaps = {pair for pair in pairs if rng.random() < 0.5} or {rng.choice(pairs)}
        files = batch_files(rng, trial, overlaps)
        request_ids, decided = decide_at_once(sessions, workers_engine, acme, settings, files)
        # No deadlock, no error of any kind: every decision an answer.
        assert all(outcome in ("completed", "rejected") for outcome in decided), f"trial {trial}: {decided}"
        completed = {i for i, outcome in enumerate(decided) if outcome == "completed"}
        for first, second in overlaps:
            assert not {first, second} <= completed, f"trial {trial}: {first} and {second} both completed"
            seen["pairs, one completed" if completed & {first, second} else "pairs, neither completed"] += 1
        for i, request_id in enumerate(request_ids):
            request = request_row(sessions, request_id)
            partners = {j for pair in overlaps if i in pair for j in pair} - {i}
            if i in completed:
                assert sorted(stored_codes(sessions, request_id)) == sorted(files[i]), f"trial {trial}: {i}"
                seen["completed"] += 1
            else:
                # Rejected for codes that a request which completed holds: never for nothing.
                assert request.reason_code == "duplicate_existing", f"trial {trial}: {i} {request.reason}"
                named = {files[i][error["line"] - 1] for error in request.errors}
                held_by_others = {code for j in partners & completed for code in files[j]}
                assert named and named <= held_by_others, f"trial {trial}: {i} rejected for {named}"
                assert stored_codes(sessions, request_id) == [], f"trial {trial}: {i}"
                seen["rejected duplicate_existing"] += 1
            if not partners:
                assert i in completed, f"trial {trial}: {i} shares nothing, yet {decided[i]}"
                seen["sharing nothing, completed"] += 1
        expected_codes += sum(len(files[i]) for i in completed)
        assert total_codes(sessions) == expected_codes, f"trial {trial}"
        assert_counts_are_exact(sessions)
    pairs_seen = seen["pairs, one completed"] + seen["pairs, neither completed"]
    print(
        f"\noverlapping batches: {OVERLAP_TRIALS} trials of {BATCHES} requests decided at once, no exception; "
        f"{seen['completed']} completed, {seen['rejected duplicate_existing']} rejected duplicate_existing; "
        f"{pairs_seen} overlapping pairs, {seen['pairs, one completed']} with one completed, "
        f"{seen['pairs, neither completed']} with neither (each lost to a third), never both; "
        f"{seen['sharing nothing, completed']} requests sharing nothing, all completed"
    )


def test_batches_that_share_no_code_decided_at_once_all_complete_60_trials(
    sessions: sessionmaker[Session], workers_engine: Engine, acme: Tenant, settings: Settings
) -> None:
    rng = random.Random(64)
    for trial in range(DISJOINT_TRIALS):
        files = batch_files(rng, trial, set())
        request_ids, decided = decide_at_once(sessions, workers_engine, acme, settings, files)
        assert decided == ["completed"] * BATCHES, f"trial {trial}: {decided}"
        for codes, request_id in zip(files, request_ids, strict=True):
            assert sorted(stored_codes(sessions, request_id)) == sorted(codes), f"trial {trial}"
    assert total_codes(sessions) == DISJOINT_TRIALS * BATCHES * OWN_CODES
    assert_counts_are_exact(sessions)
    print(f"\ndisjoint batches: {DISJOINT_TRIALS} trials of {BATCHES} requests decided at once, all completed")


def test_rejections_of_one_publisher_decided_at_once_name_no_more_foreign_codes_than_its_budget_60_trials(
    sessions: sessionmaker[Session], workers_engine: Engine, acme: Tenant, settings: Settings, make_tenant: Any
) -> None:
    rival = make_tenant("rival", (RIVAL_PRODUCT,))
    spread: Counter[int] = Counter()  # trials by how many requests named some
    for trial in range(BUDGET_TRIALS):
        foreign = [[f"RIVAL{trial}-{i}-{n}" for n in range(FOREIGN_EACH)] for i in range(BATCHES)]
        rivals = queued_request(sessions, rival, txt(*(f"{RIVAL_PRODUCT}\t{c}" for codes in foreign for c in codes)))
        with sessions.begin() as session:
            held = states.claim(session, rivals, settings.lease_seconds)
        assert held is not None and loading.decide(workers_engine, held, settings.lease_seconds) == "completed"
        request_ids = [
            queued_request(sessions, acme, lines_of([f"OWN{trial}-{i}", *codes])) for i, codes in enumerate(foreign)
        ]
        with sessions.begin() as session:
            claims = [states.claim(session, request_id, settings.lease_seconds) for request_id in request_ids]
        decided = at_once(
            *(lambda held=held: loading.decide(workers_engine, held, settings.lease_seconds, BUDGET) for held in claims)
        )
        assert decided == ["rejected"] * BATCHES, f"trial {trial}: {decided}"
        named = []
        for i, request_id in enumerate(request_ids):
            request = request_row(sessions, request_id)
            assert (request.reason_code, request.error_count) == ("duplicate_existing", FOREIGN_EACH), f"trial {trial}"
            named.append(sum(f"'{code}'" in str(request.errors) for code in foreign[i]))
        assert sum(named) == BUDGET, f"trial {trial}: {named}"
        spread[sum(1 for n in named if n)] += 1
        with sessions.begin() as session:
            spent = session.execute(text("SELECT named, withheld FROM foreign_duplicate_budgets")).all()
            assert [tuple(row) for row in spent] == [(BUDGET, BATCHES * FOREIGN_EACH - BUDGET)], f"trial {trial}"
            session.execute(text("DELETE FROM foreign_duplicate_budgets"))  # a fresh day for the next trial
    print(
        f"\nforeign-duplicate budget: {BUDGET_TRIALS} trials of {BATCHES} rejections decided at once, "
        f"{BATCHES * FOREIGN_EACH} foreign codes found and exactly {BUDGET} named each time; "
        f"trials by the number of requests that named some: {dict(sorted(spread.items()))}"
    )
