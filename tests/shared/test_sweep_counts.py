import fakeredis

from shared.sweep_counts import record_sweep, sweep_counts


def test_nothing_recorded_reads_as_zeros() -> None:
    assert sweep_counts(fakeredis.FakeRedis()) == {
        "runs": 0,
        "expired_claims": 0,
        "dead_claims": 0,
        "failed": 0,
        "published": 0,
    }


def test_sweeps_add_up() -> None:
    client = fakeredis.FakeRedis()
    record_sweep(client, {"expired_claims": 2, "failed": 1, "published": 3})
    record_sweep(client, {"expired_claims": 0, "failed": 0, "published": 0})
    record_sweep(client, {"expired_claims": 1, "dead_claims": 1, "failed": 0, "published": 4})
    assert sweep_counts(client) == {"runs": 3, "expired_claims": 3, "dead_claims": 1, "failed": 1, "published": 7}


def test_the_check_of_dead_workers_claims_is_not_counted_as_a_run_of_the_sweep() -> None:
    client = fakeredis.FakeRedis()
    record_sweep(client, {"dead_claims": 2, "published": 2}, run=False)
    assert sweep_counts(client) == {"runs": 0, "expired_claims": 0, "dead_claims": 2, "failed": 0, "published": 2}
