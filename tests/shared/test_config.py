"""`Settings.from_env`: every variable of docs/operating.md#settings, read from an
explicit environment so that the tests never see the machine's own."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from shared.config import SECRET_KEY_FILE, Settings, kept_secret_key
from shared.errors import ConfigError

# With SECRET_KEY given, no secret key file is written anywhere.
QUIET = {"SECRET_KEY": "a-secret-from-the-environment"}


def test_the_defaults_are_those_of_the_product(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    assert settings.data_dir == (tmp_path / "var").resolve()
    assert settings.data_dir.is_absolute()
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.uses_embedded_services
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.processing_window_minutes == 20
    assert settings.max_upload_mb == 100
    assert settings.max_upload_bytes == 100 * 1024 * 1024
    assert (settings.api_calls_per_minute_per_key, settings.api_calls_per_minute_per_publisher) == (6000, 12000)
    assert (settings.login_failures_per_address_per_minute, settings.login_free_failures_per_email) == (20, 5)
    assert settings.login_max_wait_seconds == 300
    assert settings.login_hashes_at_once == (os.cpu_count() or 1)
    assert settings.trusted_proxies == 0
    assert settings.secure_cookies is False


def test_every_variable_is_read(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": "postgresql://lc:pw@db.example:5432/licensecodes",
        "REDIS_URL": "redis://broker.example:6379/3",
        "LICENSECODES_DATA_DIR": str(tmp_path / "data"),
        "HOST": "0.0.0.0",
        "PORT": "8123",
        "SECRET_KEY": "s3cret",
        "PROCESSING_WINDOW_MINUTES": "7",
        "MAX_UPLOAD_MB": "3",
        "API_CALLS_PER_MINUTE_PER_KEY": "60",
        "API_CALLS_PER_MINUTE_PER_PUBLISHER": "90",
        "LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE": "7",
        "LOGIN_FREE_FAILURES_PER_EMAIL": "5",
        "LOGIN_MAX_WAIT_SECONDS": "120",
        "LOGIN_HASHES_AT_ONCE": "3",
        "TRUSTED_PROXIES": "1",
        "SECURE_COOKIES": "true",
    }

    settings = Settings.from_env(environ)

    assert settings.database_url == "postgresql://lc:pw@db.example:5432/licensecodes"
    assert settings.redis_url == "redis://broker.example:6379/3"
    assert not settings.uses_embedded_services
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.host == "0.0.0.0"
    assert settings.port == 8123
    assert settings.secret_key == "s3cret"
    assert settings.processing_window_minutes == 7
    assert settings.max_upload_mb == 3
    assert settings.max_upload_bytes == 3 * 1024 * 1024
    assert (settings.api_calls_per_minute_per_key, settings.api_calls_per_minute_per_publisher) == (60, 90)
    assert (settings.login_failures_per_address_per_minute, settings.login_free_failures_per_email) == (7, 5)
    assert (settings.login_max_wait_seconds, settings.login_hashes_at_once, settings.trusted_proxies) == (120, 3, 1)
    assert settings.secure_cookies is True


def test_the_retired_failed_logins_variable_stops_the_process_naming_its_replacement(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="FAILED_LOGINS_PER_ADDRESS is no longer read; use LOGIN_FREE_FAILURES_PER_EMAIL"
    ):
        Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), "FAILED_LOGINS_PER_ADDRESS": "10"})


@pytest.mark.parametrize("raw", ["maybe", "2"])
def test_a_bad_boolean_names_the_variable_and_the_value(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"SECURE_COOKIES must be true or false, not '{raw}'"):
        Settings.from_env({"LICENSECODES_DATA_DIR": str(tmp_path), "SECURE_COOKIES": raw})


def test_a_relative_data_directory_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": "here/data"})

    assert settings.data_dir == (tmp_path / "here" / "data").resolve()


def test_one_url_alone_still_uses_the_embedded_services(tmp_path: Path) -> None:
    settings = Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://x/y"})

    assert settings.uses_embedded_services


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    environ = {**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "PORT": ""}

    settings = Settings.from_env(environ)

    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.port == 8000


@pytest.mark.parametrize("name", ["PORT", "PROCESSING_WINDOW_MINUTES", "MAX_UPLOAD_MB"])
@pytest.mark.parametrize("raw", ["twelve", "1.5", "80 80"])
def test_a_bad_whole_number_names_the_variable_and_the_value(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), name: raw})

    assert name in str(error.value)
    assert repr(raw) in str(error.value)


@pytest.mark.parametrize("port", ["0", "-1", "65536", "100000"])
def test_a_port_outside_1_to_65535_is_refused(tmp_path: Path, port: str) -> None:
    with pytest.raises(ConfigError, match=rf"PORT must be between 1 and 65535, not {port}$"):
        Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), "PORT": port})


@pytest.mark.parametrize("port", [1, 65535])
def test_the_ports_at_the_ends_of_the_range_are_accepted(tmp_path: Path, port: int) -> None:
    settings = Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), "PORT": str(port)})

    assert settings.port == port


@pytest.mark.parametrize("name", ["PROCESSING_WINDOW_MINUTES", "MAX_UPLOAD_MB"])
def test_a_window_or_upload_limit_of_zero_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=rf"{name} must be at least 1, not 0"):
        Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), name: "0"})


def test_the_settings_cannot_be_changed_once_read(tmp_path: Path) -> None:
    settings = Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path)})

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_with_urls_fills_in_both_urls_and_keeps_the_rest(tmp_path: Path) -> None:
    settings = Settings.from_env({**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path), "PORT": "8123"})

    connected = settings.with_urls("postgresql://db/x", "unix:///tmp/r.sock")

    assert (connected.database_url, connected.redis_url) == ("postgresql://db/x", "unix:///tmp/r.sock")
    assert not connected.uses_embedded_services
    assert connected.port == 8123 and connected.secret_key == settings.secret_key
    assert settings.database_url is None  # the original is untouched


def test_the_secret_key_is_generated_once_in_the_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"

    first = Settings.from_env({"LICENSECODES_DATA_DIR": str(data_dir)})
    second = Settings.from_env({"LICENSECODES_DATA_DIR": str(data_dir)})

    key_file = data_dir / SECRET_KEY_FILE
    assert key_file.read_text().strip() == first.secret_key
    assert second.secret_key == first.secret_key
    assert len(first.secret_key) >= 43  # at least 256 random bits, url-safe base64


def test_the_secret_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    Settings.from_env({"LICENSECODES_DATA_DIR": str(tmp_path)})

    assert stat.S_IMODE((tmp_path / SECRET_KEY_FILE).stat().st_mode) == 0o600


def test_two_data_directories_get_two_secret_keys(tmp_path: Path) -> None:
    assert kept_secret_key(tmp_path / "one") != kept_secret_key(tmp_path / "two")


def test_a_secret_key_from_the_environment_wins_and_writes_no_file(tmp_path: Path) -> None:
    kept = kept_secret_key(tmp_path / "kept")

    settings = Settings.from_env({"LICENSECODES_DATA_DIR": str(tmp_path / "kept"), "SECRET_KEY": "from-env"})
    fresh = Settings.from_env({"LICENSECODES_DATA_DIR": str(tmp_path / "fresh"), "SECRET_KEY": "from-env"})

    assert settings.secret_key == "from-env" != kept
    assert fresh.secret_key == "from-env"
    assert not (tmp_path / "fresh" / SECRET_KEY_FILE).exists()


def test_an_empty_secret_key_file_is_refused_with_advice(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("")

    with pytest.raises(ConfigError, match="is empty; delete it"):
        Settings.from_env({"LICENSECODES_DATA_DIR": str(tmp_path)})


def test_the_lease_and_the_sweep_intervals_have_defaults_and_can_be_shortened() -> None:
    defaults = Settings.from_env({"SECRET_KEY": "k"})
    assert (defaults.lease_seconds, defaults.sweep_interval_seconds, defaults.dead_claims_interval_seconds) == (
        120,
        60,
        5,
    )
    short = Settings.from_env(
        {"SECRET_KEY": "k", "LEASE_SECONDS": "5", "SWEEP_INTERVAL_SECONDS": "1", "DEAD_CLAIMS_INTERVAL_SECONDS": "1"}
    )
    assert (short.lease_seconds, short.sweep_interval_seconds, short.dead_claims_interval_seconds) == (5, 1, 1)
    with pytest.raises(ConfigError, match="LEASE_SECONDS"):
        Settings.from_env({"SECRET_KEY": "k", "LEASE_SECONDS": "1"})


def test_the_foreign_duplicates_limit_defaults_to_1000_a_day_may_be_0_and_is_never_negative(tmp_path: Path) -> None:
    base = {**QUIET, "LICENSECODES_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).foreign_duplicates_per_day == 1000
    assert Settings.from_env({**base, "FOREIGN_DUPLICATES_PER_DAY": "0"}).foreign_duplicates_per_day == 0
    assert Settings.from_env({**base, "FOREIGN_DUPLICATES_PER_DAY": "25"}).foreign_duplicates_per_day == 25
    with pytest.raises(ConfigError, match="FOREIGN_DUPLICATES_PER_DAY must be at least 0, not -1"):
        Settings.from_env({**base, "FOREIGN_DUPLICATES_PER_DAY": "-1"})
