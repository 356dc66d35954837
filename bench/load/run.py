"""`make load`: 20 publishers upload 10,000-code TXT files at once, for
LOAD_MINUTES (default 5), against the real service.

Starts `licensecodes serve` on a fresh embedded data directory (bench.service),
creates 20 publishers, each with a product and an API key, then runs locust
headless in a process of its own (bench/load/locustfile.py: one user per
publisher, uploading a file, polling it every 0.5 s while it is pending,
uploading the next). When locust stops it waits for the queue to drain and
reads from the database how every request ended. Prints and writes to
bench/results/load-<time>.json: requests made, 5xx answers, p50/p95 of the
upload POST and of status polls, codes stored per second, the drain time.
Exits non-zero when a criterion fails: any 5xx, any request not completed,
the queue not drained within 60 s of the end of the load.

    make load
    LOAD_MINUTES=0.5 .venv/bin/python -m bench.load
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.load.figures import failed_criteria, figures
from bench.load.plan import CODES_PER_FILE
from bench.load.uploads import account, wait_until_drained
from bench.service import REPO, Server, free_port, start_server

RESULTS = REPO / "bench" / "results"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USERS = 20
FIRST_PRODUCT = 3001
DRAIN_GIVE_UP_SECONDS = 300  # past the criterion's 60 s, to tell slow from stuck


def main() -> None:
    minutes = float(os.environ.get("LOAD_MINUTES", "5"))
    machine = {"host": platform.node(), "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    print(f"licensecodes load test: {USERS} publishers for {minutes:g} min; "
          f"{machine['host']}, {machine['cores']} cores, {machine['date']}", flush=True)  # fmt: skip
    data_dir = Path(tempfile.mkdtemp(prefix="lc-load-", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="lc-load-files-"))
    server = start_server(data_dir, free_port())
    try:
        result = load(server, work, minutes)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    failures = failed_criteria(result)
    report(result, failures)
    write(machine, minutes, result, failures)
    sys.exit(1 if failures else 0)


def load(server: Server, work: Path, minutes: float) -> dict[str, Any]:
    publishers = work / "publishers.json"
    publishers.write_text(json.dumps(create_publishers(server)))
    records_file = work / "records.json"
    exit_code = run_locust(server, publishers, records_file, minutes)
    if not records_file.exists():
        raise SystemExit(f"locust wrote no records (exit code {exit_code})")
    records = json.loads(records_file.read_text())
    window = records["window"]
    drain_seconds, drained = wait_until_drained(server.database_url, window["stopped"], DRAIN_GIVE_UP_SECONDS)
    load_seconds = window["stopped"] - window["started"]
    return figures(records["requests"], account(server.database_url), load_seconds, drain_seconds, drained)


def create_publishers(server: Server) -> list[dict[str, Any]]:
    """Before the load starts; four at a time, each a few CLI calls."""
    names = [(f"load{number:02d}", FIRST_PRODUCT + number) for number in range(USERS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda named: server.publisher(*named), names))
    print(f"created {len(made)} publishers, each with a product and an API key", flush=True)
    return [{"api_key": api_key, "product_id": product_id} for api_key, product_id in made]


def run_locust(server: Server, publishers: Path, records: Path, minutes: float) -> int:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--users", str(USERS), "--spawn-rate", str(USERS), "--run-time", f"{round(minutes * 60)}s",
        "--host", f"http://127.0.0.1:{server.port}", "--only-summary",
        # Our criteria decide the outcome, not locust's "any failure".
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    environ = os.environ | {"LOAD_PUBLISHERS": str(publishers), "LOAD_RECORDS": str(records)}
    return subprocess.run(command, cwd=REPO, env=environ, check=False).returncode


def report(result: dict[str, Any], failures: list[str]) -> None:
    post, poll = result["upload_post"], result["status_poll"]
    lines = [
        f"requests made          {result['requests']:,} "
        f"({post['count']:,} upload POSTs, {poll['count']:,} status polls)",
        f"5xx answers            {result['server_errors_5xx']} (4xx {result['client_errors_4xx']}, "
        f"no answer {result['no_answer']})",
        *(f"  {count} x {failure}" for failure, count in result["failures"].items()),
        f"upload requests        {result['uploads_by_status']} ({result['uploads_accepted']:,} accepted)",
        f"queue drained          {result['drain_seconds']:.1f} s after the load stopped"
        + ("" if result["drained"] else " (NOT drained: gave up)"),
        f"upload POST            p50 {_ms(post['p50_ms'])}, p95 {_ms(post['p95_ms'])}",
        f"status poll            p50 {_ms(poll['p50_ms'])}, p95 {_ms(poll['p95_ms'])}",
        f"upload to decided      p50 {result['upload_to_decided_seconds']['p50']} s, "
        f"p95 {result['upload_to_decided_seconds']['p95']} s (server clock)",
        f"codes stored           {result['codes_stored']:,}, {result['codes_per_second']:,.0f} codes/s "
        f"over {result['load_seconds'] + result['drain_seconds']:.0f} s",
    ]
    print("\n".join(lines))
    print("\n".join(f"FAILED: {failure}" for failure in failures) if failures else "every criterion met")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def write(machine: dict[str, Any], minutes: float, result: dict[str, Any], failures: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    settings = {"users": USERS, "minutes": minutes, "codes_per_file": CODES_PER_FILE}
    out.write_text(json.dumps({"machine": machine, "settings": settings, "results": result,
                               "failed_criteria": failures}, indent=2))  # fmt: skip
    print(f"figures written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
