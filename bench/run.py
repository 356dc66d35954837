"""`make bench`: the upload pipeline measured on the real service against
PostgreSQL's own COPY of the same rows.

Starts `licensecodes serve` on a fresh embedded data directory, uploads
generated TXT files (all five fields, random codes) through the HTTP API and
polls every 20 ms until each is decided, sampling the memory of the web and
worker processes. For each size it also times a bare COPY of the same rows
into an empty copy of the codes table with the same indexes, on the same
database, and prints the ratio. Figures are medians over --runs runs; they
are also written to bench/results/bench-<time>.json. A benchmark, not a
test: it asserts nothing about time.

    make bench                                    # 10 (x50), 100,000 and 1,000,000 codes, 3 runs, 20 s of takes
    .venv/bin/python -m bench --sizes 100000 --runs 1 --latency-runs 10 --take-seconds 5

Then 16 clients take codes one at a time from the uploaded codes for 20 s
(bench/takes.py), and the figures of the takes follow.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.baseline import bare_copy_seconds
from bench.files import write_txt
from bench.reads import p95
from bench.scale import MEASURED_SIZE, run_scale
from bench.service import (
    PRODUCT_ID,
    REPO,
    MemoryPeaks,
    Server,
    download,
    free_port,
    start_server,
    status,
    upload,
    upload_until_decided,
)
from bench.takes import TAKE_SECONDS, TAKERS, TakeSettings, run_takes

RESULTS = REPO / "bench" / "results"
OTHER_PRODUCT = 2002
MB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="large sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs of each large size (the median is shown)")
    parser.add_argument("--latency-runs", type=int, default=50, help="uploads of 10 codes")
    parser.add_argument("--server-codes", type=int, default=int(os.environ.get("BENCH_SERVER_CODES") or 0),
                        help="then fill the server to this many codes and measure again "
                        "(bench/README.md#the-scale-mode; default $BENCH_SERVER_CODES, 0: not)")  # fmt: skip
    parser.add_argument("--reads", type=int, default=50, help="scale mode: reads of each page (median and p95)")
    parser.add_argument("--read-seconds", type=float, default=20,
                        help="scale mode: fewer reads of a page once they took this long")  # fmt: skip
    parser.add_argument("--takers", type=int, default=TAKERS, help="clients taking codes at once")
    parser.add_argument("--take-seconds", type=float, default=TAKE_SECONDS, help="how long they take (0: no takes)")
    arguments = parser.parse_args()
    takes = TakeSettings(arguments.takers, arguments.take_seconds) if arguments.take_seconds > 0 else None
    sizes = [int(size) for size in arguments.sizes.split(",") if size]
    data_dir = Path(tempfile.mkdtemp(prefix="lc-bench-", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="lc-bench-files-"))
    machine = {"host": platform.node(), "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    started = time.perf_counter()
    print(f"licensecodes benchmark: {machine['host']}, {machine['cores']} cores, {machine['date']}", flush=True)
    server = start_server(data_dir, free_port())
    try:
        bench = Bench(server, work, arguments.runs)
        results: dict[str, Any] = {"latency_10_codes": bench.latency(arguments.latency_runs)}
        for size in sizes:
            results[str(size)] = bench.size(size, extras=size == max(sizes))
        if takes is not None:
            # From the codes uploaded above, all of the demo product.
            results["takes"] = run_takes(server, PRODUCT_ID, takes)
        if arguments.server_codes:
            results["scale"] = run_scale(bench, arguments.server_codes, arguments.reads, arguments.read_seconds,
                                         results.get(str(MEASURED_SIZE)), takes)  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    minutes = (time.perf_counter() - started) / 60
    figures = {"machine": machine, "runs": arguments.runs, "minutes": minutes, "results": results}
    out.write_text(json.dumps(figures, indent=2))
    print(f"the whole run took {minutes:.1f} minutes; figures written to {out.relative_to(REPO)}")


def _server_seconds(body: dict[str, Any]) -> dict[str, float] | None:
    """Upload to claim, and claim to decision, by the server's own clock."""
    from datetime import datetime

    if not body.get("started_at") or not body.get("finished_at"):
        return None
    created, started, finished = (
        datetime.fromisoformat(body[key].replace("Z", "+00:00")) for key in ("created_at", "started_at", "finished_at")
    )
    return {"queued": (started - created).total_seconds(), "processing": (finished - started).total_seconds()}


class Bench:
    def __init__(self, server: Server, work: Path, runs: int) -> None:
        self.server, self.work, self.runs = server, work, runs
        self.seed = 0
        self.other: tuple[str, int] | None = None

    def file(self, size: int, bad: str | None = None) -> tuple[Path, int]:
        self.seed += 1
        path = self.work / f"codes-{size}-{self.seed}.txt"
        write_txt(path, size, self.seed, bad)
        return path, self.seed

    def timed_upload(self, size: int, bad: str | None = None, **fields: str) -> dict[str, Any]:
        path, seed = self.file(size, bad)
        with MemoryPeaks(self.server) as memory:
            seconds, body = upload_until_decided(self.server, path, **fields)
        path.unlink()
        return {
            "seconds": seconds,
            "status": body["status"],
            "id": body["id"],
            "seed": seed,
            "rss": memory.peaks,
            "server_seconds": _server_seconds(body),
            "worker_phases": self.server.worker_phases(int(body["id"])),  # type: ignore[call-overload]
        }

    def latency(self, runs: int) -> dict[str, Any]:
        self.timed_upload(10)  # not counted: the first after start also opens every connection
        times = [self.timed_upload(10)["seconds"] for _ in range(runs)]
        figures = {"runs": runs, "median_ms": statistics.median(times) * 1000, "p95_ms": p95(times) * 1000}
        print(f"{10:>12,} codes  POST to completed: median {figures['median_ms']:.0f} ms, "
              f"p95 {figures['p95_ms']:.0f} ms over {runs} uploads", flush=True)  # fmt: skip
        return figures

    def size(self, size: int, extras: bool) -> dict[str, Any]:
        ours, bare, rss = [], [], {"web": 0, "worker": 0}
        last: dict[str, Any] = {}
        for _ in range(self.runs):
            last = self.timed_upload(size)
            assert last["status"] == "completed", last
            print(f"{'':>14}one run: {last['seconds']:.2f} s; server {last['server_seconds']}; {last['worker_phases']}")
            ours.append(last["seconds"])
            bare.append(bare_copy_seconds(self.server.database_url, size, last["seed"]))
            rss = {role: max(rss[role], last["rss"][role]) for role in rss}
        figures: dict[str, Any] = {
            "seconds": statistics.median(ours),
            "bare_copy_seconds": statistics.median(bare),
            "codes_per_second": size / statistics.median(ours),
            "peak_rss_mb": {role: round(value / MB, 1) for role, value in rss.items()},
        }
        figures["ratio"] = figures["seconds"] / figures["bare_copy_seconds"]
        print(f"{size:>12,} codes  ours {figures['seconds']:7.2f} s  bare COPY {figures['bare_copy_seconds']:6.2f} s  "
              f"ratio {figures['ratio']:4.2f}  {figures['codes_per_second']:>9,.0f} codes/s  peak RSS "
              f"web {figures['peak_rss_mb']['web']:.0f} MB, worker {figures['peak_rss_mb']['worker']:.0f} MB",
              flush=True)  # fmt: skip
        if extras:
            figures |= self.extras(size, last["id"])
        return figures

    def extras(self, size: int, completed_id: int) -> dict[str, Any]:
        with MemoryPeaks(self.server) as memory:
            seconds, length = download(self.server, completed_id)
        figures: dict[str, Any] = {
            "download": {
                "seconds": seconds,
                "mb_per_second": length / MB / seconds,
                "peak_rss_mb": round(memory.peaks["web"] / MB, 1),
            },
            "dry_run_seconds": self.median(lambda: self.timed_upload(size, dry_run="true"), "completed"),
            "bad_line_at_end_seconds": self.median(lambda: self.timed_upload(size, "end"), "rejected"),
            "bad_line_at_start_seconds": self.median(lambda: self.timed_upload(size, "start"), "rejected"),
            "small_upload_beside_it_seconds": self.beside(size),
            "largest_upload": self.largest_upload(),
        }
        down = figures["download"]
        print(f"{'':>12}  download {down['seconds']:.2f} s = {down['mb_per_second']:.0f} MB/s "
              f"(peak RSS web {down['peak_rss_mb']:.0f} MB); dry run {figures['dry_run_seconds']:.2f} s; "
              f"rejected with a bad line at the end {figures['bad_line_at_end_seconds']:.2f} s, "
              f"at the start {figures['bad_line_at_start_seconds']:.2f} s", flush=True)  # fmt: skip
        print(f"{'':>12}  another publisher's 10 codes while it is processing: "
              f"{figures['small_upload_beside_it_seconds']:.2f} s", flush=True)  # fmt: skip
        largest = figures["largest_upload"]
        print(f"{'':>12}  a file of {largest['mb']:.0f} MB received (POST to 202) in {largest['seconds']:.2f} s"
              f" (peak RSS web {largest['peak_rss_mb']:.0f} MB)", flush=True)  # fmt: skip
        return figures

    def largest_upload(self) -> dict[str, Any]:
        """A file just under the 100 MB limit, from the POST to the 202: the
        web tier spools the body, then streams it into PostgreSQL. It holds
        more codes than a request may, so the worker then rejects it."""
        sample, _ = self.file(1000)
        per_line = sample.stat().st_size / 1000
        sample.unlink()
        path, _ = self.file(int(0.98 * 100 * MB / per_line))
        with MemoryPeaks(self.server) as memory:
            started = time.perf_counter()
            upload_id = upload(self.server, path)
            seconds = time.perf_counter() - started
        mb = path.stat().st_size / MB
        path.unlink()
        while status(self.server, upload_id)["status"] not in ("completed", "rejected"):
            time.sleep(0.1)
        return {"mb": mb, "seconds": seconds, "peak_rss_mb": round(memory.peaks["web"] / MB, 1)}

    def beside(self, size: int) -> float:
        """Fairness: another publisher's 10-code upload while this size is processing."""
        if self.other is None:
            self.other = self.server.publisher("other", OTHER_PRODUCT)
        big: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: big.update(self.timed_upload(size)))
        thread.start()
        while not self.server.processing():
            time.sleep(0.02)
        small = self.work / "small.txt"
        write_txt(small, 10, seed=self.seed + 10_000, product_id=OTHER_PRODUCT)
        seconds, body = upload_until_decided(self.server, small, self.other)
        thread.join()
        assert body["status"] == "completed" and big["status"] == "completed", (body, big)
        return seconds

    def median(self, run: Callable[[], dict[str, Any]], expected: str) -> float:
        times = []
        for _ in range(self.runs):
            outcome = run()
            assert outcome["status"] == expected, outcome
            times.append(outcome["seconds"])
        return statistics.median(times)


if __name__ == "__main__":
    main()
