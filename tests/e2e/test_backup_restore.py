"""A backup of a running `licensecodes serve`, restored into a new data
directory, where `licensecodes serve` starts and serves the same publisher
with the same API key and decides new uploads
(docs/operating.md#backup-and-restore). Both sides are embedded servers of
data directories of their own, whatever services the test session uses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import embedded
from tests.e2e.processes import REPO, embedded_environ, free_port, processes_mentioning, remove_dir, short_temp_dir
from tests.e2e.test_serve import START_TIMEOUT, Served, decided, launch_serve, start_serve, upload

pytestmark = pytest.mark.e2e
CLIENTS = 8


@pytest.fixture
def two_data_dirs() -> Iterator[tuple[Path, Path]]:
    paths = (short_temp_dir(), short_temp_dir())
    yield paths
    for path in paths:
        for process in processes_mentioning(str(path)):
            process.kill()
        embedded._stop_servers(path)
        remove_dir(path)


def _licensecodes(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web", *args],
        env=embedded_environ(data_dir),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_backup_of_a_running_service_restores_into_a_new_data_directory_that_serves(
    two_data_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    source_dir, restored_dir = two_data_dirs
    source = start_serve(source_dir, free_port())
    stop = threading.Event()
    failures: list[str] = []

    def client(number: int) -> None:
        n = 0
        while not stop.is_set():
            if number % 2:
                decided(source, upload(source, f"c{number}n{n}", 500))
            elif source.get("/api/v1/uploads", key=source.api_key)[0] != 200:
                failures.append("a read failed")
            n += 1

    clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        backup = tmp_path / "running.backup"
        taken = _licensecodes(source_dir, "backup", str(backup))
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert taken.returncode == 0, taken.stderr
    assert not failures
    codes = int(re.search(r"schema \S+, ([\d,]+) codes", taken.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert source.press_ctrl_c() == 0

    restored = _licensecodes(restored_dir, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert (restored_dir / "secret_key").read_text() == (source_dir / "secret_key").read_text()

    process, output = launch_serve(restored_dir, port := free_port())
    served = Served(process, output, f"http://127.0.0.1:{port}", "", "", source.api_key, 0.0, restored_dir)
    try:
        output.wait_for("Press Ctrl-C to stop.", timeout=START_TIMEOUT)
        # The key made before the backup, the codes the backup held, and a new upload decided.
        status, body = served.get("/api/v1/products/1001/stock", key=source.api_key)
        assert status == 200, body
        assert json.loads(body)["activation"]["available"] == codes
        assert decided(served, upload(served, "after-restore", 100))["status"] == "completed"
    finally:
        assert served.press_ctrl_c() == 0
