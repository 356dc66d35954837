"""Beat keeps nothing on disk: a schedule file left half-written by a killed
beat (the Celery default's shelve) once stopped every later beat, and with
it the sweep that the processing window depends on."""

from __future__ import annotations

import dbm
import subprocess
import sys
import time
from pathlib import Path

from shared.config import Settings
from tests import conftest as suite
from tests.conftest import REPO, TEST_DATA_DIR


def test_beat_sends_the_sweeps_beside_a_corrupt_schedule_file_from_an_older_release(
    tmp_path: Path, settings: Settings
) -> None:
    # `settings`: beat sends the sweep to the test services, so they must be
    # up (and so the test is in the db tier, not the unit one).
    left_over = TEST_DATA_DIR / "celerybeat-schedule"
    with dbm.open(str(left_over), "c") as schedule:  # the dbm module shelve, and so beat, would use
        schedule[b"entries"] = b""  # what a beat killed mid-write left: "EOFError: Ran out of input"
    log_path = tmp_path / "beat.log"
    with open(log_path, "wb") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "worker", "beat"],
            env=suite.test_environ(),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        # Both entries: the sweep, and the check of dead workers' claims between sweeps.
        sent = ("Sending due task sweep", "Sending due task dead-claims")
        while not all(line in log_path.read_text(errors="replace") for line in sent):
            assert beat.poll() is None, f"beat exited:\n{log_path.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"not both sent:\n{log_path.read_text(errors='replace')}"
            time.sleep(0.1)
    finally:
        beat.terminate()
        beat.wait(timeout=60)
        for path in TEST_DATA_DIR.glob("celerybeat-schedule*"):
            path.unlink()
