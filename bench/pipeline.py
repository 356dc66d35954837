"""Upload-to-completed times and peak memory, measured on the real service.

Starts `licensecodes serve` on a fresh embedded data directory (web under
gunicorn, a Celery worker, beat), uploads generated TXT files through the
HTTP API, polls every 20 ms until each is decided, and samples the resident
memory of the web and worker processes meanwhile. Prints a table and writes
the figures to bench/results/pipeline-<time>.json. A benchmark, not a test:
it asserts nothing about time.

    .venv/bin/python bench/pipeline.py                 # 10 x20, 100,000 and 1,000,000 codes
    .venv/bin/python bench/pipeline.py --sizes 10,1000 --small-runs 5
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PRODUCT_ID = 1001  # the demo product
ALPHABET = string.ascii_uppercase + string.digits


def generate(path: Path, count: int, seed: int) -> None:
    """`count` lines with all five fields and random 20-character codes."""
    rng = random.Random(seed)
    with open(path, "wb") as out:
        for start in range(0, count, 10_000):
            lines = (
                f"{PRODUCT_ID}\t{''.join(rng.choices(ALPHABET, k=20))}\t{rng.randint(1, 365)}\t"
                f"{rng.randint(0, 99)}\t{rng.randint(1, 10)}\r\n"
                for _ in range(min(10_000, count - start))
            )
            out.write("".join(lines).encode("cp1252"))


@dataclass
class Server:
    process: subprocess.Popen[str]
    data_dir: Path
    port: int
    api_key: str

    def children(self, name: str) -> list[psutil.Process]:
        """The child running `name` (web, worker) and its descendants."""
        for child in psutil.Process(self.process.pid).children():
            if child.cmdline()[-1] == name:
                return [child, *child.children(recursive=True)]
        return []

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=120)
        if self.process.stdout:
            self.process.stdout.close()


def start_server(data_dir: Path, port: int) -> Server:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environ.update(LICENSECODES_DATA_DIR=str(data_dir), PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "web", "serve"],
        env=environ,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    assert process.stdout is not None
    text = ""
    for line in process.stdout:
        text += line
        if "Press Ctrl-C" in line:
            break
    key = re.search(r"API key:\s+(\S+)", text)
    if key is None:
        raise SystemExit(f"licensecodes serve did not start:\n{text}")
    return Server(process, data_dir, port, key.group(1))


@dataclass
class MemoryPeaks:
    """The largest resident set of any one process of each role."""

    server: Server
    peaks: dict[str, int] = field(default_factory=lambda: {"web": 0, "worker": 0})
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MemoryPeaks:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for role in self.peaks:
                for process in self.server.children(role):
                    try:
                        self.peaks[role] = max(self.peaks[role], process.memory_info().rss)
                    except psutil.NoSuchProcess:
                        pass


def multipart(path: Path, boundary: str) -> tuple[list[bytes], int]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return [head, tail], len(head) + path.stat().st_size + len(tail)


def upload(server: Server, path: Path) -> int:
    """POST the file, streamed from disk; answer the upload id."""
    boundary = "bench" + "".join(random.choices(string.ascii_lowercase, k=16))
    (head, tail), length = multipart(path, boundary)

    def body() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as source:
            while chunk := source.read(1 << 20):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    headers = {
        "Authorization": f"Bearer {server.api_key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
    }
    connection.request("POST", f"/api/v1/products/{PRODUCT_ID}/uploads", body=body(), headers=headers)
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    if response.status != 202:
        raise SystemExit(f"upload refused: {response.status} {payload}")
    return int(payload["id"])


def status(server: Server, upload_id: int) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/v1/uploads/{upload_id}",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def upload_until_decided(server: Server, path: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    upload_id = upload(server, path)
    while True:
        body = status(server, upload_id)
        if body["status"] in ("completed", "rejected"):
            return time.perf_counter() - started, body
        time.sleep(0.02)


def download(server: Server, upload_id: int) -> tuple[float, int]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/v1/uploads/{upload_id}/codes.txt",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    started, size = time.perf_counter(), 0
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(1 << 20):
            size += len(chunk)
    return time.perf_counter() - started, size


def measure(sizes: list[int], small_runs: int, work: Path, server: Server) -> dict[str, object]:
    results: dict[str, object] = {}
    for size in sizes:
        runs = small_runs if size <= 1000 else 1
        times, peaks, last = [], {"web": 0, "worker": 0}, {}
        for run in range(runs):
            path = work / f"codes-{size}-{run}.txt"
            generate(path, size, seed=size * 1000 + run)
            with MemoryPeaks(server) as memory:
                seconds, last = upload_until_decided(server, path)
            path.unlink()
            if last["status"] != "completed":
                raise SystemExit(f"{size} codes: {last['status']} {last.get('reason')}")
            times.append(seconds)
            peaks = {role: max(peaks[role], memory.peaks[role]) for role in peaks}
        entry: dict[str, object] = {
            "runs": runs,
            "seconds_median": statistics.median(times),
            "seconds_p95": sorted(times)[max(0, round(0.95 * len(times)) - 1)],
            "codes_per_second": size / statistics.median(times),
            "peak_rss_mb": {role: round(value / 2**20, 1) for role, value in peaks.items()},
        }
        if size >= 100_000:
            with MemoryPeaks(server) as memory:
                seconds, length = download(server, int(last["id"]))  # type: ignore[call-overload]
            entry["download"] = {
                "seconds": seconds,
                "mb_per_second": length / 2**20 / seconds,
                "peak_rss_mb": {role: round(value / 2**20, 1) for role, value in memory.peaks.items()},
            }
        results[str(size)] = entry
        print(_row(size, entry), flush=True)
    return results


def _row(size: int, entry: dict[str, object]) -> str:
    peaks = entry["peak_rss_mb"]
    line = (
        f"{size:>10,} codes  runs {entry['runs']:>2}  median {entry['seconds_median']:8.3f} s  "
        f"p95 {entry['seconds_p95']:8.3f} s  {entry['codes_per_second']:>10,.0f} codes/s  "
        f"peak RSS web {peaks['web']:6.1f} MB, worker {peaks['worker']:6.1f} MB"  # type: ignore[index]
    )
    if "download" in entry:
        down = entry["download"]
        line += (
            f"\n{'':>16}download {down['seconds']:.2f} s = {down['mb_per_second']:.1f} MB/s, "  # type: ignore[index]
            f"peak RSS web {down['peak_rss_mb']['web']:.1f} MB"  # type: ignore[index]
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100000,1000000")
    parser.add_argument("--small-runs", type=int, default=20, help="uploads of each small size (median taken)")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    data_dir = Path(tempfile.mkdtemp(prefix="lc-bench-", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="lc-bench-files-"))
    server = start_server(data_dir, free_port())
    try:
        print(
            f"licensecodes pipeline benchmark: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
        )
        results = measure(sizes, arguments.small_runs, work, server)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"machine": platform.node(), "cores": os.cpu_count(), "results": results}, indent=2))
    print(f"figures written to {out}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
