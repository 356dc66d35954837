"""Workers killed, stopped and restarted at random points of a request
every request is still decided once, before its
deadline, with exactly the file's codes or none."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.faults.conftest import Faults, Trial

CODES = 60_000  # about a second of processing: room for a random point


def at_a_random_point(faults: Faults, trial: Trial, longest: float) -> None:
    """Return at a random moment of the request's first attempt: before the
    claim (a negative draw), while reading, during the COPY or the insert,
    just before the commit."""
    moment = faults.rng.uniform(-0.1, longest)
    if moment < 0:
        time.sleep(-moment / 10)
        return
    faults.wait_for(trial.request_id, ("processing", "completed", "rejected"))
    time.sleep(moment)


@pytest.mark.parametrize("trial", range(20))
def test_the_pool_child_killed_at_a_random_point(faults: Faults, trial: int) -> None:
    faults.rng.seed(trial)
    worker = faults.worker("kill-child")
    upload = faults.upload(CODES)
    at_a_random_point(faults, upload, longest=1.5)
    worker.child().send_signal(signal.SIGKILL)
    faults.decided(upload)
    faults.check(upload, interrupted=True)


@pytest.mark.parametrize("trial", range(10))
def test_the_whole_worker_killed_and_restarted(faults: Faults, trial: int) -> None:
    faults.rng.seed(100 + trial)
    worker = faults.worker("kill-all")
    upload = faults.upload(CODES)
    at_a_random_point(faults, upload, longest=1.5)
    worker.kill()
    faults.worker("restarted")
    faults.decided(upload)
    faults.check(upload, interrupted=True)


@pytest.mark.parametrize("trial", range(10))
def test_sigterm_during_processing_as_in_a_deploy(faults: Faults, trial: int) -> None:
    faults.rng.seed(200 + trial)
    worker = faults.worker("deployed")
    upload = faults.upload(CODES)
    at_a_random_point(faults, upload, longest=1.0)
    worker.terminate()  # a warm shutdown finishes the task in hand, or gives its message back
    faults.worker("new-release")
    faults.decided(upload)
    faults.check(upload)


@pytest.mark.parametrize("trial", range(10))
def test_a_worker_paused_past_its_lease_commits_nothing_when_it_resumes(faults: Faults, trial: int) -> None:
    faults.rng.seed(300 + trial)
    paused = faults.worker("paused")
    upload = faults.upload(CODES)
    faults.wait_for(upload.request_id, ("processing",))
    time.sleep(faults.rng.uniform(0, 0.8))
    child = paused.child()
    child.send_signal(signal.SIGSTOP)
    try:
        faults.worker("other")  # takes the request once the lease (4 s) has expired
        assert faults.decided(upload) == "completed"
    finally:
        child.send_signal(signal.SIGCONT)
    time.sleep(1.5)  # the first one's late work runs, and must change nothing
    faults.check(upload)


def test_a_request_that_kills_its_worker_every_time_is_rejected_after_three_attempts(
    faults: Faults, make_tenant: Any
) -> None:
    worker = faults.worker("crashing")
    poison = faults.upload(CODES)
    for attempt in (1, 2, 3):
        deadline = time.monotonic() + 60
        while not (faults.status(poison.request_id) == "processing" and faults.attempts(poison.request_id) == attempt):
            assert time.monotonic() < deadline, f"attempt {attempt} never started"
            time.sleep(0.01)
        worker.child().send_signal(signal.SIGKILL)
    assert faults.decided(poison) == "rejected"
    faults.check(poison, expected="rejected")
    assert faults.reason(poison) == "processing_failed"
    # Another publisher's request is decided on time all the same.
    other = make_tenant("other", (4343,))
    healthy = faults.upload(100, tenant=other)
    faults.decided(healthy, timeout=30)
    faults.check(healthy)
