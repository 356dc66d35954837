"""`licensecodes doctor` and its figures on /metrics
(docs/operating.md#routine-maintenance): each rule of when to act, on
figures made up for it; the figures of the test session's database; the
command as a real process before and after a backup; and the codes table's
autovacuum set by its migration."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from shared import doctor
from shared.config import Settings
from tests.backups import licensecodes
from tests.web.test_metrics import overdue_delivery, scrape, value

NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
WELL = doctor.Health(
    database_bytes=10**9,
    tables=[doctor.Table("license_codes", 10**9, 20_000_000, 50_000, None)],
    oldest_pending_seconds=60.0,
    window_seconds=1200,
    last_backup_at=NOW - datetime.timedelta(hours=20),
    now=NOW,
    disk=doctor.Disk(Path("/var"), 50 * 2**30, 100 * 2**30),
)


def _findings(**changes: Any) -> list[str]:
    return [one.finding for one in doctor.advice(dataclasses.replace(WELL, **changes))]


def test_each_rule_of_the_doctor_warns_only_past_its_line() -> None:
    assert _findings() == []
    assert _findings(last_backup_at=None) == ["no backup has been taken"]
    assert _findings(last_backup_at=NOW - datetime.timedelta(days=3)) == ["the last backup is 3.0 days old"]
    assert _findings(oldest_pending_seconds=1199.0) == []
    assert _findings(oldest_pending_seconds=1800.0) == ["a request has waited 30 minutes, past the 20-minute window"]
    # Dead rows: both many and a large share of the live ones.
    assert _findings(tables=[doctor.Table("t", 1, 20_000_000, 3_000_000, None)]) == []
    assert _findings(tables=[doctor.Table("t", 1, 100, 99_000, None)]) == []
    assert _findings(tables=[doctor.Table("t", 1, 1_000_000, 300_000, None)]) == [
        "t holds 300,000 dead rows beside 1,000,000 live ones"
    ]
    assert _findings(disk=doctor.Disk(Path("/var"), 5 * 2**30, 100 * 2**30)) == [
        "the disk of /var has 5.0 GB free of 100.0 GB"
    ]
    assert _findings(disk=None) == []
    assert _findings(oldest_due_delivery_seconds=599.0) == []
    assert _findings(oldest_due_delivery_seconds=900.0) == ["a webhook delivery has been due for 15 minutes"]


def test_the_doctor_reads_the_sizes_rows_and_waits_of_the_database(engine: Engine, make_tenant: Any) -> None:
    make_tenant("acme", (1,))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO license_codes (code, product_id, request_id, line_no, code_type, expiry_days) "
                "SELECT 'D-' || n, 1, 1, n, 'activation', 30 FROM generate_series(1, 3000) n"
            )
        )
        connection.execute(text("UPDATE license_codes SET expiry_days = 31 WHERE line_no <= 1000"))
        # A session sends its figures to the statistics at most every second; this one, at its commit.
        connection.execute(text("SELECT pg_stat_force_next_flush()"))
    with engine.connect() as connection:
        health = doctor.examine(connection, 1200, None)
    codes = next(table for table in health.tables if table.name == "license_codes")
    # Another session of an earlier test may send its few rows' figures late
    # (each sends them within a second or so, not at its commit).
    assert codes.total_bytes > 0 and 3000 <= codes.live_rows <= 3010 and codes.dead_rows >= 1000
    assert health.database_bytes >= sum(table.total_bytes for table in health.tables)
    assert (health.oldest_pending_seconds, health.last_backup_at, health.disk) == (None, None, None)
    assert health.oldest_due_delivery_seconds is None


def test_doctor_warns_of_a_webhook_delivery_due_for_over_10_minutes(
    sessions: sessionmaker[Session], run_cli: Any, tmp_path: Path, client: FlaskClient, make_tenant: Any
) -> None:
    assert run_cli("backup", str(tmp_path / "b")).returncode == 0  # its warning aside
    acme = make_tenant("acme")
    endpoint = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "events": ["stock.low"]},
                           headers=acme.auth).get_json()["id"]  # fmt: skip
    assert client.post(f"/api/v1/webhooks/{endpoint}/test", headers=acme.auth).status_code == 202
    assert run_cli("doctor").returncode == 0  # just due: nothing to do

    with overdue_delivery(sessions, minutes=15):
        overdue = run_cli("doctor")
        samples = scrape(client)

    assert overdue.returncode == 1
    assert "oldest due webhook delivery: due 15.0 minutes ago" in overdue.stdout
    assert "warning: a webhook delivery has been due for 15 minutes: check that a worker serves" in overdue.stdout
    assert value(samples, "licensecodes_maintenance_warnings") == 1
    assert 15 * 60 <= value(samples, "licensecodes_webhook_oldest_due_age_seconds") < 16 * 60


def test_doctor_says_what_to_do_until_a_backup_is_taken(
    settings: Settings, sessions: sessionmaker[Session], run_cli: Any, tmp_path: Path, client: FlaskClient
) -> None:
    before = run_cli("doctor")
    assert before.returncode == 1 and "warning: no backup has been taken" in before.stdout, before.stdout
    assert value(scrape(client), "licensecodes_maintenance_warnings") == 1
    assert ("licensecodes_last_backup_age_seconds", ()) not in scrape(client)
    assert run_cli("backup", str(tmp_path / "b")).returncode == 0
    after = run_cli("doctor")
    assert after.returncode == 0, after.stdout
    assert "last backup: 0.0 hours ago" in after.stdout and "license_codes" in after.stdout
    samples = scrape(client)
    assert value(samples, "licensecodes_maintenance_warnings") == 0
    assert 0 <= samples[("licensecodes_last_backup_age_seconds", ())] < 60
    assert value(samples, "licensecodes_table_bytes", table="license_codes") > 0


def test_the_codes_table_is_vacuumed_by_a_fiftieth_of_its_rows(engine: Engine) -> None:
    with engine.connect() as connection:
        options = connection.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'license_codes'")).scalar()
    assert set(options) >= {"autovacuum_vacuum_scale_factor=0.02", "autovacuum_analyze_scale_factor=0.02"}


def test_a_negative_retention_stops_a_command_with_its_name_and_exit_status_1(settings: Settings) -> None:
    assert settings.database_url is not None
    refused = licensecodes(settings, settings.database_url, "doctor", UPLOAD_RETENTION_DAYS="-1")
    assert refused.returncode == 1 and "UPLOAD_RETENTION_DAYS must be" in refused.stderr
    assert "Traceback" not in refused.stderr
