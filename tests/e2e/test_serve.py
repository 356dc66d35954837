"""`licensecodes serve` as a newcomer runs it: first start on an empty data
directory, the printed URL, login and key working, Ctrl-C leaving nothing
behind, a second start keeping the data; a child that dies restarted, one
that keeps dying at start ending serve; a port already taken refused."""

from __future__ import annotations

import http.cookiejar
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

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
    wait_until,
)
from tests.events.receiver import Receiver, receiver
from web.restart_policy import QUICK_DEATHS_TO_GIVE_UP

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


def launch_serve(data_dir: Path, port: int, **extra: str) -> tuple[subprocess.Popen[str], LineReader]:
    """`licensecodes serve` started, not yet waited for."""
    process = subprocess.Popen(
        [sys.executable, "-m", "web", "serve"],
        env=embedded_environ(data_dir, PORT=str(port), **extra),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    return process, LineReader(process)


def start_serve(data_dir: Path, port: int, **extra: str) -> Served:
    started = time.monotonic()
    process, output = launch_serve(data_dir, port, **extra)
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
    return logged_in(served)[1]


def logged_in(served: Served) -> tuple[urllib.request.OpenerDirector, str]:
    """An opener holding the demo user's session, and the products page."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(served.url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, form
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": served.email, "password": served.password})
    with opener.open(served.url + "/login", data=body.encode(), timeout=10) as response:
        assert response.url.endswith("/products")
        return opener, str(response.read().decode())


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
    assert "webhooks@" in (data_dir / "logs" / "webhook-worker.log").read_text()
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


# What tells each child apart among serve's children, in its command line.
CHILD_MARKERS = {
    "web": "-m web web",
    "worker": "--hostname=uploads@%h",
    "bulk-worker": "--hostname=bulk@%h",
    "webhook-worker": "--hostname=webhooks@%h",
    "beat": "-m worker beat",
}
DECIDED_TIMEOUT = 90.0


def child_of(served: Served, name: str) -> psutil.Process:
    children = psutil.Process(served.process.pid).children()
    return next(child for child in children if CHILD_MARKERS[name] in " ".join(child.cmdline()))


def upload(served: Served, name: str, lines: int) -> int:
    """Upload `lines` codes to the demo product through the API; return the request id."""
    content = "".join(f"1001\tKILLED-{name.upper()}-{number:08d}\r\n" for number in range(lines)).encode("cp1252")
    response = requests.post(
        f"{served.url}/api/v1/products/1001/uploads",
        headers={"Authorization": f"Bearer {served.api_key}"},
        files={"file": ("codes.txt", content)},
        data={"code_type": "activation"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def decided(served: Served, upload_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + DECIDED_TIMEOUT
    while time.monotonic() < deadline:
        status, body = served.get(f"/api/v1/uploads/{upload_id}", key=served.api_key)
        request = json.loads(body) if status == 200 else {}
        if request.get("status") in ("completed", "rejected"):
            return dict(request)
        time.sleep(0.2)
    raise AssertionError(f"upload {upload_id} was not decided within {DECIDED_TIMEOUT} s")


def sweep_runs(served: Served) -> int:
    status, body = served.get("/metrics")
    assert status == 200
    found = re.search(r"^licensecodes_sweep_runs_total (\d+)", body.decode(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def healthy(served: Served) -> bool:
    try:
        return served.get("/healthz")[0] == 200
    except (urllib.error.URLError, OSError):
        return False  # the restarted web server is not listening yet


def sweeps_run_again(served: Served) -> bool:
    runs = sweep_runs(served)
    return wait_until(lambda: sweep_runs(served) > runs, timeout=30)


def delivered_through(served: Served, hooks: Receiver, endpoint_id: int) -> bool:
    """Whether a test event sent now reaches the receiver."""
    before = len(hooks.received)
    sent = requests.post(f"{served.url}/api/v1/webhooks/{endpoint_id}/test",
                         headers={"Authorization": f"Bearer {served.api_key}"}, timeout=30)  # fmt: skip
    assert sent.status_code == 202, sent.text
    return wait_until(lambda: len(hooks.received) > before, timeout=30)


def test_each_child_killed_in_turn_is_restarted_and_the_service_decides_uploads_again(data_dir: Path) -> None:
    # Sweeps every 2 s show that a restarted beat sends them again.
    served = start_serve(data_dir, free_port(), SWEEP_INTERVAL_SECONDS="2", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")
    killed = []
    hooks_running = receiver()
    hooks = hooks_running.__enter__()  # left in the finally below
    try:
        hook = {"url": hooks.url, "events": ["upload.completed"]}
        endpoint = requests.post(f"{served.url}/api/v1/webhooks", json=hook,
                                 headers={"Authorization": f"Bearer {served.api_key}"}, timeout=30)  # fmt: skip
        assert endpoint.status_code == 201, endpoint.text
        endpoint_id = int(endpoint.json()["id"])
        assert delivered_through(served, hooks, endpoint_id), "serve delivers no webhook"
        grant = subprocess.run(
            [sys.executable, "-m", "web", "grant-operator", served.email],
            env=embedded_environ(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert grant.returncode == 0, grant.stderr
        for name in CHILD_MARKERS:
            child = child_of(served, name)
            killed.append(child.pid)
            child.kill()
            killed_at = time.monotonic()
            served.output.wait_for(f"the {name} process was killed by signal 9 (SIGKILL)", timeout=10)
            served.output.wait_for(f"started the {name} process again", timeout=10)
            assert wait_until(lambda: healthy(served), timeout=60), served.output.text()
            answered = time.monotonic() - killed_at
            # A file over 1 MiB goes to the bulk worker's queue, a small one to the other worker's.
            request = decided(served, upload(served, name, lines=45_000 if name == "bulk-worker" else 10))
            assert request["status"] == "completed", request
            if name == "beat":
                assert sweeps_run_again(served), "the restarted beat sends no sweep"
            if name == "webhook-worker":
                assert delivered_through(served, hooks, endpoint_id), "the restarted webhook worker delivers nothing"
            print(
                f"\n{name} killed: /healthz answered {answered:.1f} s later, "
                f"an upload was decided {time.monotonic() - killed_at:.1f} s later"
            )

        opener, _ = logged_in(served)
        page = opener.open(served.url + "/operator", timeout=10).read().decode()
        restarts = page[page.index("restarts-caption") : page.index("</table>", page.index("restarts-caption"))]
        for name in CHILD_MARKERS:
            assert f'<th scope="row">{name}</th>' in restarts
        assert restarts.count("was killed by signal 9 (SIGKILL)") == len(CHILD_MARKERS)
        assert restarts.count("restarted after 1 s") == len(CHILD_MARKERS)
    finally:
        pids = served.every_pid()
        code = served.press_ctrl_c()
        hooks_running.__exit__(None, None, None)
    assert code == 0, served.output.text()
    assert [pid for pid in pids | set(killed) if alive(pid)] == []
    assert processes_mentioning(str(data_dir)) == []


def crashing_at_start(folder: Path, name: str) -> str:
    """A PYTHONPATH whose sitecustomize makes one child of serve exit at once,
    at every start, as a bad setting or a broken install would."""
    (folder / "sitecustomize.py").write_text(
        "import os, sys\n"
        f"if {CHILD_MARKERS[name]!r} in ' '.join(sys.argv):\n"
        f"    sys.stderr.write('{name}: cannot start (made to fail by the test)\\n')\n"
        "    sys.stderr.flush()\n"
        "    os._exit(3)\n"
    )
    return str(folder)


def test_a_child_that_keeps_dying_at_start_ends_serve_with_a_clear_message(data_dir: Path, tmp_path: Path) -> None:
    process, output = launch_serve(data_dir, free_port(), PYTHONPATH=crashing_at_start(tmp_path, "bulk-worker"))

    code = process.wait(timeout=120)

    text = output.text()
    assert code == 1, text
    assert text.count("the bulk-worker process exited with status 3") == QUICK_DEATHS_TO_GIVE_UP
    assert [int(delay) for delay in re.findall(r"restarting it in (\d+) s", text)] == [1, 2, 4, 8]
    assert f"it died {QUICK_DEATHS_TO_GIVE_UP} times in a row within 15 s of its start" in text
    assert "giving up and stopping everything" in text
    assert "bulk-worker: cannot start (made to fail by the test)" in text  # the end of its log
    assert text.rstrip().endswith("licensecodes: stopped.")
    assert processes_mentioning(str(data_dir)) == []
    assert postgres_pid(data_dir) is None or not alive(postgres_pid(data_dir))


def test_ctrl_c_while_a_restart_is_pending_stops_everything_and_starts_nothing(data_dir: Path, tmp_path: Path) -> None:
    process, output = launch_serve(data_dir, free_port(), PYTHONPATH=crashing_at_start(tmp_path, "bulk-worker"))
    try:
        output.wait_for("restarting it in 4 s", timeout=START_TIMEOUT)
    finally:
        process.send_signal(signal.SIGINT)
    code = process.wait(timeout=90)

    text = output.text()
    assert code == 0, text
    after_ctrl_c = text[text.index("licensecodes: stopping…") :]
    assert "started the bulk-worker process again" not in after_ctrl_c
    starts = (data_dir / "logs" / "bulk-worker.log").read_text().count("cannot start (made to fail by the test)")
    assert starts == 3  # the first start and two restarts; none after Ctrl-C
    assert text.rstrip().endswith("licensecodes: stopped.")
    assert processes_mentioning(str(data_dir)) == []


def test_a_port_already_taken_is_refused_at_once(data_dir: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        process, output = launch_serve(data_dir, port)
        code = process.wait(timeout=30)

    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in output.text()
    assert "set PORT to a free port" in output.text()
    assert processes_mentioning(str(data_dir)) == []
