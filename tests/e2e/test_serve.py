"""`licensecodes serve` as a newcomer runs it: first start on an empty data
directory, the printed URL, login and key working, Ctrl-C leaving nothing
behind, a second start keeping the data, a dying child stopping the rest."""

from __future__ import annotations

import http.cookiejar
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from shared import embedded
from tests.e2e.processes import (
    REPO,
    LineReader,
    alive,
    embedded_environ,
    free_port,
    postgres_pid,
    processes_mentioning,
    redis_pid,
    remove_dir,
    short_temp_dir,
)

pytestmark = pytest.mark.e2e
START_TIMEOUT = 120.0


@dataclass
class Served:
    process: subprocess.Popen[str]
    output: LineReader
    url: str
    email: str
    password: str
    api_key: str
    seconds_to_ready: float
    data_dir: Path

    def get(self, path: str, key: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def every_pid(self) -> set[int]:
        """The supervisor, its children and theirs, and the two servers."""
        tree = psutil.Process(self.process.pid).children(recursive=True)
        servers = (postgres_pid(self.data_dir), redis_pid(self.data_dir))
        return {self.process.pid, *(p.pid for p in tree), *(pid for pid in servers if pid)}

    def press_ctrl_c(self) -> int:
        # A terminal sends SIGINT to the foreground process group: serve's own.
        self.process.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self) -> int:
        code = self.process.wait(timeout=90)
        self.output.text()
        return code


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = short_temp_dir()
    yield path
    for process in processes_mentioning(str(path)):
        process.kill()
    embedded._stop_servers(path)
    remove_dir(path)


def start_serve(data_dir: Path, port: int) -> Served:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "web", "serve"],
        env=embedded_environ(data_dir, PORT=str(port)),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    output = LineReader(process)
    output.wait_for("Press Ctrl-C to stop.", timeout=START_TIMEOUT)
    seconds = time.monotonic() - started
    text = output.text()
    url = re.search(r"URL:\s+(\S+)", text)
    login = re.search(r"Login:\s+(\S+) / (\S+)", text)
    key = re.search(r"API key:\s+(\S+)", text)
    assert url and login and key, text
    return Served(process, output, url.group(1), login.group(1), login.group(2), key.group(1), seconds, data_dir)


def create_publisher(data_dir: Path, name: str) -> subprocess.CompletedProcess[str]:
    """`licensecodes create-publisher NAME` on the data directory's servers."""
    return subprocess.run(
        [sys.executable, "-m", "web", "create-publisher", name],
        env=embedded_environ(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def log_in(served: Served) -> str:
    """Log in through the real login form; return the products page."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(served.url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, form
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": served.email, "password": served.password})
    with opener.open(served.url + "/login", data=body.encode(), timeout=10) as response:
        assert response.url.endswith("/products")
        return str(response.read().decode())


def test_serve_starts_everything_and_ctrl_c_leaves_nothing_behind(data_dir: Path) -> None:
    port = free_port()
    served = start_serve(data_dir, port)

    assert served.url == f"http://127.0.0.1:{port}"
    status, body = served.get("/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, body = served.get("/api/v1/products", key=served.api_key)
    assert status == 200
    assert [p["product_id"] for p in json.loads(body)["items"]] == [1001]
    assert "Demo Product" in log_in(served)
    assert "uploads@" in (data_dir / "logs" / "worker.log").read_text()
    assert "bulk@" in (data_dir / "logs" / "bulk-worker.log").read_text()
    assert "beat: Starting" in (data_dir / "logs" / "beat.log").read_text()

    # Another command on the same data directory uses the running servers.
    postgres = postgres_pid(data_dir)
    cli = create_publisher(data_dir, "acme")
    assert cli.returncode == 0, cli.stderr
    assert postgres_pid(data_dir) == postgres
    assert served.get("/healthz")[0] == 200, "the CLI command stopped the servers it did not start"

    # A key sent in the query string is refused, a wrong one too; neither
    # the right key nor the wrong one is written to any log.
    assert served.get(f"/api/v1/products?api_key={served.api_key}")[0] == 400
    wrong_key = served.api_key[:-6] + "WRONG0"
    assert served.get("/api/v1/products", key=wrong_key)[0] == 401

    pids = served.every_pid()
    assert len(pids) >= 6
    assert served.press_ctrl_c() == 0
    assert "licensecodes: stopped." in served.output.text()
    # The banner shows the demo key to the newcomer, once; nothing else may.
    logged = [line for line in served.output.text().splitlines() if not line.lstrip().startswith("API key:")]
    logged += [path.read_text(errors="replace") for path in (data_dir / "logs").glob("*.log")]
    # The logs are JSON lines (LOG_FORMAT): the access line's quotes are escaped there.
    access_line = '"GET /api/v1/products HTTP/1.1" 400'
    assert any(access_line in text.replace('\\"', '"') for text in logged), "no access log line: proves nothing"
    # lc_<prefix>_<secret>: the secret may hold "_" itself, so split from the left.
    for secret in (served.api_key.split("_", 2)[2], wrong_key.split("_", 2)[2]):
        assert not [text for text in logged if secret in text]
    assert [pid for pid in pids if alive(pid)] == []
    assert processes_mentioning(str(data_dir)) == []

    # A second start keeps the data: same demo credentials, the publisher made above.
    again = start_serve(data_dir, port)
    try:
        assert (again.email, again.password, again.api_key) == (served.email, served.password, served.api_key)
        assert again.get("/api/v1/products", key=served.api_key)[0] == 200
        duplicate = create_publisher(data_dir, "acme")
        assert duplicate.returncode == 1
        assert "already exists" in duplicate.stderr
        print(f"\nserve: first start {served.seconds_to_ready:.1f} s, second start {again.seconds_to_ready:.1f} s")
    finally:
        pids = again.every_pid()
        assert again.press_ctrl_c() == 0
    assert [pid for pid in pids if alive(pid)] == []


def test_a_child_that_dies_is_reported_and_the_rest_are_stopped(data_dir: Path) -> None:
    served = start_serve(data_dir, free_port())
    pids = served.every_pid()
    worker = next(
        child for child in psutil.Process(served.process.pid).children() if "--hostname=uploads@%h" in child.cmdline()
    )
    worker.kill()

    assert served.finish() == 1
    assert "the worker process was killed by signal 9; stopping the others" in served.output.text()
    assert [pid for pid in pids if alive(pid)] == []
    assert processes_mentioning(str(data_dir)) == []
