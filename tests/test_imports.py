"""The dependency rule of docs/architecture.md#the-shape-of-the-code,
`web → shared ← worker` and a client that needs none of them, checked on what
a fresh interpreter really imports (after pallets/click's test_imports.py).

Each check imports every module of a package in a new process, so the
modules the test session already loaded cannot hide an import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_environ

REPO = Path(__file__).resolve().parents[1]

IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys, threading
walked = []
for name in sys.argv[1:]:
    package = importlib.import_module(name)
    walked.append(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        # __main__ runs the program; importing it is running it.
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)
            walked.append(module.name)
print(json.dumps({"walked": walked, "modules": sorted(sys.modules), "threads": threading.active_count()}))
"""

FRAMEWORKS = {"flask", "flask_login", "flask_wtf", "wtforms", "werkzeug", "celery", "kombu", "billiard", "gunicorn"}


def _start_import(package: str, cwd: Path) -> subprocess.Popen[str]:
    environ = clean_environ(PYTHONPATH=str(REPO), LICENSECODES_DATA_DIR=str(cwd / "data"))
    return subprocess.Popen(
        [sys.executable, "-c", IMPORT_EVERYTHING, package],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _imported(process: subprocess.Popen[str], cwd: Path) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    result["left_behind"] = sorted(path.name for path in cwd.iterdir())
    return result


def _modules_on_disk(package: str) -> set[str]:
    """Every module of `package` that an import can reach (directories
    without __init__.py, like the Alembic scripts, are not packages)."""
    found = set()
    for path in (REPO / package).rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        if all((REPO.joinpath(*parts[:i]) / "__init__.py").exists() for i in range(1, len(parts))):
            found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return {name for name in found if not name.endswith(".__main__")}


def _top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What importing each package imports, each in a fresh interpreter in
    an empty directory of its own. The four run at once: each spends a
    few seconds importing, and this module is part of `make test-quick`."""
    cwds = {package: tmp_path_factory.mktemp(f"{package}-imports") for package in ("shared", "web", "worker", "client")}
    started = {package: _start_import(package, cwd) for package, cwd in cwds.items()}
    return {package: _imported(process, cwds[package]) for package, process in started.items()}


@pytest.fixture
def shared_imports(imports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return imports["shared"]


def test_every_module_of_shared_is_imported_by_the_check(shared_imports: dict[str, Any]) -> None:
    assert set(shared_imports["walked"]) == _modules_on_disk("shared")
    assert {"shared.models", "shared.tenants", "shared.embedded.postgres"} <= set(shared_imports["walked"])


def test_shared_imports_neither_flask_nor_celery(shared_imports: dict[str, Any]) -> None:
    assert _top_level(shared_imports["modules"]) & FRAMEWORKS == set()


def test_shared_imports_neither_web_nor_worker(shared_imports: dict[str, Any]) -> None:
    assert _top_level(shared_imports["modules"]) & {"web", "worker"} == set()


def test_importing_shared_starts_nothing_and_writes_nothing(shared_imports: dict[str, Any]) -> None:
    # Nothing happens at import: no server, no thread, no data directory.
    assert shared_imports["threads"] == 1
    assert shared_imports["left_behind"] == []


def test_web_never_imports_the_worker_package(imports: dict[str, dict[str, Any]]) -> None:
    result = imports["web"]

    assert set(result["walked"]) == _modules_on_disk("web")
    assert "worker" not in _top_level(result["modules"])
    assert not [name for name in result["modules"] if name == "celery.worker" or name.startswith("celery.worker.")]


def test_the_worker_never_imports_web_or_flask(imports: dict[str, dict[str, Any]]) -> None:
    result = imports["worker"]

    assert set(result["walked"]) == _modules_on_disk("worker")
    assert "celery" in _top_level(result["modules"])  # the check did load the worker's own framework
    assert _top_level(result["modules"]) & {"web", "flask", "werkzeug", "gunicorn"} == set()


def test_the_client_imports_nothing_of_the_server(imports: dict[str, dict[str, Any]]) -> None:
    result = imports["client"]

    assert set(result["walked"]) == _modules_on_disk("client")
    assert "requests" in _top_level(result["modules"])  # the check did load the client's own HTTP library
    server_side = FRAMEWORKS | {"web", "worker", "shared", "sqlalchemy", "psycopg2", "redis"}
    assert _top_level(result["modules"]) & server_side == set()


RUN_THE_PROGRAM = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["licensecodes", *sys.argv[1:]]
from client.launcher import main
main()
"""


def _run_the_program(cwd: Path, *args: str) -> tuple[str, list[str]]:
    """`licensecodes ARGS` in a fresh interpreter: what it prints, and every
    module it had imported when it exited."""
    finished = subprocess.run(
        [sys.executable, "-c", RUN_THE_PROGRAM, *args],
        cwd=cwd,
        env=clean_environ(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout, json.loads(finished.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["upload", "status", "download", "take", "stock"])
def test_the_publishers_commands_run_without_flask_or_celery(command: str, tmp_path: Path) -> None:
    printed, modules = _run_the_program(tmp_path, command, "--help")

    assert f"Usage: licensecodes {command}" in printed
    assert _top_level(modules) & (FRAMEWORKS | {"web", "worker", "shared"}) == set()


def test_the_operators_commands_still_reach_the_server_command_line(tmp_path: Path) -> None:
    printed, modules = _run_the_program(tmp_path, "--help")

    for command in ("serve", "create-publisher", "upload", "status", "download", "take", "stock"):
        assert command in printed
    assert "flask" in _top_level(modules)
