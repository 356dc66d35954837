"""The service under measurement: `licensecodes serve` on a fresh embedded
data directory (web under gunicorn, the Celery workers, beat), driven through
its HTTP API, with the resident memory of its processes sampled meanwhile."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT_ID = 1001  # the demo product
# The takes (bench/takes.py) call the API 500 times a second and more, with
# one key; the default limits (6,000 calls a minute a key, 12,000 a
# publisher: docs/product.md#rate-limits) would refuse most of them. The
# limiter still counts every call, so what it costs stays in the figures.
RATE_LIMITS = {"API_CALLS_PER_MINUTE_PER_KEY": "10000000", "API_CALLS_PER_MINUTE_PER_PUBLISHER": "10000000"}


@dataclass
class Server:
    process: subprocess.Popen[str]
    data_dir: Path
    port: int
    api_key: str

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres:@/licensecodes?host={self.data_dir / 'postgres'}"

    def worker_phases(self, upload_id: int) -> str:
        """The Code Generator's own account of an upload's phases (its log)."""
        marker = f"upload {upload_id}: "
        logs = ("worker.log", "bulk-worker.log")  # the two pools of `serve`
        log = [
            line for name in logs for line in (self.data_dir / "logs" / name).read_text(errors="replace").splitlines()
        ]
        lines = [_message(line).split(marker, 1)[1] for line in log if marker in line and "rows read" in line]
        return lines[-1] if lines else ""

    def processing(self) -> bool:
        """Whether one of the demo publisher's requests is being processed."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/uploads?status=processing",
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(json.loads(response.read())["total"]) > 0

    def cli(self, *arguments: str) -> str:
        """Run a `licensecodes` operator command on this data directory; its output."""
        environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        environ["LICENSECODES_DATA_DIR"] = str(self.data_dir)
        done = subprocess.run([sys.executable, "-m", "web", *arguments], env=environ, cwd=REPO,
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done.stdout

    def publisher(self, name: str, product_id: int) -> tuple[str, int]:
        """Another publisher NAME with a product, made with the CLI: (API key, product id)."""
        self.cli("create-publisher", name)
        self.product(name, product_id)
        return self.cli("create-api-key", "--publisher", name).strip().splitlines()[-1], product_id

    def product(self, publisher: str, product_id: int) -> None:
        """Another product of the publisher, its short code made of its name and id."""
        short_code = f"{publisher}-{product_id}"
        self.cli("create-product", "--publisher", publisher, "--product-id", str(product_id),
                 "--short-code", short_code, "--name", short_code.title())  # fmt: skip

    def user(self, publisher: str, email: str, password: str) -> None:
        """A web login for the publisher, made with the CLI."""
        self.cli("create-user", "--publisher", publisher, "--password", password, email)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=120)
        if self.process.stdout:
            self.process.stdout.close()


def _message(line: str) -> str:
    """A log line's message, whether the log is JSON (LOG_FORMAT=json) or text."""
    try:
        return str(json.loads(line)["message"])
    except (ValueError, KeyError, TypeError):
        return line


def start_server(data_dir: Path, port: int, settings: Mapping[str, str] | None = None) -> Server:
    """`settings`: more environment for the service (bench.webhooks lets it send to 127.0.0.1)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environ.update(LICENSECODES_DATA_DIR=str(data_dir), PORT=str(port), **RATE_LIMITS, **(settings or {}))
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


@contextmanager
def running_service(settings: Mapping[str, str] | None = None) -> Iterator[tuple[Server, Path]]:
    """A service on a fresh data directory, and a folder for the bench's
    files; both deleted, and the service stopped, at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="lc-bench-", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="lc-bench-files-"))
    server = start_server(data_dir, free_port(), settings)
    try:
        yield server, work
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def post_json(server: Server, path: str, body: Mapping[str, object], timeout: float = 30) -> dict[str, object]:
    """POST `body` to the API path with the demo key; the answer's JSON."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/v1{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return dict(json.loads(response.read()))


class MemoryPeaks:
    """The largest resident set of any one process of each role, sampled every
    20 ms by a separate process: a sampling thread here would take the GIL
    from the client being timed (it cut the download figure by a fifth)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peaks = {"web": 0, "worker": 0}

    def __enter__(self) -> MemoryPeaks:
        self._sampler = subprocess.Popen(
            [sys.executable, "-m", "bench.sampler", str(self.server.process.pid)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        output, _ = self._sampler.communicate("stop\n", timeout=30)
        self.peaks = json.loads(output)


def multipart(path: Path, boundary: str, fields: dict[str, str]) -> tuple[list[bytes], int]:
    """The multipart envelope around the file (the form fields first)."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    head = "".join(parts).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return [head, tail], len(head) + path.stat().st_size + len(tail)


def upload(server: Server, path: Path, caller: tuple[str, int] | None = None, **fields: str) -> int:
    """POST the file, streamed from disk; return the upload id. `caller`:
    (API key, product id), the demo publisher's by default."""
    api_key, product_id = caller or (server.api_key, PRODUCT_ID)
    boundary = "bench" + "".join(random.choices(string.ascii_lowercase, k=16))
    (head, tail), length = multipart(path, boundary, fields)

    def body() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as source:
            while chunk := source.read(1 << 20):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
    }
    connection.request("POST", f"/api/v1/products/{product_id}/uploads", body=body(), headers=headers)
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    if response.status != 202:
        raise SystemExit(f"upload refused: {response.status} {payload}")
    return int(payload["id"])


def status(server: Server, upload_id: int, api_key: str | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/v1/uploads/{upload_id}",
        headers={"Authorization": f"Bearer {api_key or server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def upload_until_decided(
    server: Server, path: Path, caller: tuple[str, int] | None = None, **fields: str
) -> tuple[float, dict[str, object]]:
    """Seconds from the start of the POST until a client polling every 20 ms
    sees the request decided."""
    started = time.perf_counter()
    upload_id = upload(server, path, caller, **fields)
    while True:
        body = status(server, upload_id, caller[0] if caller else None)
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
