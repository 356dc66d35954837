import fakeredis

from shared.sweep_counts import record_sweep, sweep_counts


def test_nothing_recorded_reads_as_zeros() -> None:
    assert sweep_counts(fakeredis.FakeRedis()) == {"runs": 0, "expired_claims": 0, "failed": 0, "published": 0}


def test_sweeps_add_up() -> None:
    client = fakeredis.FakeRedis()
    record_sweep(client, {"expired_claims": 2, "failed": 1, "published": 3})
    record_sweep(client, {"expired_claims": 0, "failed": 0, "published": 0})
    record_sweep(client, {"expired_claims": 1, "failed": 0, "published": 4})
    assert sweep_counts(client) == {"runs": 3, "expired_claims": 3, "failed": 1, "published": 7}
