"""The environment of the test session and the processes it starts is built
from a clean dict: a setting left in the shell that runs pytest cannot
change what the tests see, while a test's own variables still reach them."""

from __future__ import annotations

import pytest

from shared.config import Settings
from tests import conftest as suite

OPERATOR_SHELL = {
    "PROCESSING_WINDOW_MINUTES": "1",
    "PORT": "9999",
    "MAX_UPLOAD_MB": "1",
    "LOG_FORMAT": "text",
    "SECRET_KEY": "an-operator-secret",
    "LEASE_SECONDS": "600",
    "LICENSECODES_URL": "https://licensecodes.example",
    "LICENSECODES_API_KEY": "lc_000000000000_operator",
}


@pytest.fixture
def operator_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OPERATOR_SHELL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def test_no_setting_of_the_shell_reaches_the_tests(operator_shell: None) -> None:
    environ = suite.test_environ()

    assert (OPERATOR_SHELL.keys() - {"LEASE_SECONDS"}).isdisjoint(environ)
    assert environ["LEASE_SECONDS"] == "4"  # the suite's, not the shell's
    assert environ["LICENSECODES_DATA_DIR"] == str(suite.TEST_DATA_DIR)
    assert environ["LANG"] == "C.UTF-8"
    settings = Settings.from_env({**environ, "SECRET_KEY": "given, so that no key file is written"})
    assert (settings.processing_window_minutes, settings.port, settings.max_upload_mb) == (20, 8000, 100)
    assert settings.log_format == "json"
    assert settings.uses_embedded_services


def test_the_services_the_run_is_pointed_at_are_kept(operator_shell: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://ci@127.0.0.1:5432/ci_test")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CI", "true")

    environ = suite.test_environ()

    assert environ["DATABASE_URL"] == "postgresql://ci@127.0.0.1:5432/ci_test"
    assert environ["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert environ["CI"] == "true"


def test_a_test_sets_its_own_variables(operator_shell: None) -> None:
    environ = suite.test_environ(REPUBLISH_AFTER_SECONDS="3", LEASE_SECONDS="2")

    assert (environ["REPUBLISH_AFTER_SECONDS"], environ["LEASE_SECONDS"]) == ("3", "2")
    assert suite.clean_environ(PORT="8123")["PORT"] == "8123"


def test_a_clean_environment_has_the_systems_variables_and_no_service(operator_shell: None) -> None:
    environ = suite.clean_environ()

    assert environ.keys() <= set(suite.SYSTEM_VARIABLES)
    assert "PATH" in environ
