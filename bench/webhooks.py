"""Webhook delivery measured on the real service (bench/README.md#webhooks):
a local HTTP receiver that answers 200 at once, registered as endpoints of
the demo publisher for `upload.completed`.

1. **Latency**: small uploads, one endpoint; for each, the time from the
   request's decision (its `finished_at` in the database) to its message
   arriving at the receiver. Median, p95 and max (the product's aim: a
   median under 1 s).
2. **Throughput**: ten endpoints, more small uploads; deliveries a second
   from the first decision to the last delivery received (bounded by how
   fast uploads are decided), then the same deliveries made due again at
   once in SQL, as a replay makes one (shared.events.deliveries.replay),
   and the deliveries a second of that drain alone.

The yardstick, in the same run: the same receiver, POSTed to one message
after another by one client of this process (a fresh connection each, as
a delivery opens one), in deliveries a second. The bench asserts nothing
about time.

    .venv/bin/python -m bench.webhooks                    # a fresh service, 1,000 uploads, 10 endpoints x 100
    .venv/bin/python -m bench.webhooks --uploads 50 --throughput-uploads 20
    .venv/bin/python -m bench.webhooks --receiver-delay-ms 100   # a receiver that takes 100 ms to answer
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg2
import urllib3

from bench import cpu
from bench.files import write_txt
from bench.reads import percentile
from bench.service import Server, post_json, running_service, upload

UPLOADS = 1000
THROUGHPUT_UPLOADS = 100
ENDPOINTS = 10
CODES = 10  # codes in each upload
UPLOADING_CLIENTS = 4
SEED = 50_000_000  # far above the other steps' seeds: every upload's codes are new
WAIT_SECONDS = 300  # for every delivery to arrive
BARE_POSTS = 300
# The service may send to this receiver: plain http to 127.0.0.1.
SERVER_SETTINGS = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "WEBHOOK_HTTP_HOSTS": "127.0.0.1"}


@dataclass
class Receiver:
    """Each upload.completed message's upload id, with the Unix time it arrived."""

    port: int = 0
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(self.arrivals)} of {count} deliveries arrived in {timeout:.0f} s")
            time.sleep(0.05)


@contextmanager
def receiving(delay_seconds: float = 0) -> Iterator[Receiver]:
    """`delay_seconds`: how long each answer waits (a receiver that does its work before it answers)."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            at = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay_seconds)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            data = json.loads(body).get("data") or {}
            if "id" in data:  # the yardstick's POSTs carry none
                with receiver.lock:
                    receiver.arrivals.append((int(data["id"]), at))

        def log_message(self, *args: object) -> None:
            """Quiet: a line a delivery would swamp the bench's output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def register(server: Server, url: str) -> int:
    """A new endpoint of the demo publisher for upload.completed; its id."""
    created = post_json(server, "/webhooks", {"url": url, "events": ["upload.completed"], "description": "bench"})
    return int(str(created["id"]))


def upload_many(server: Server, work: Path, count: int, first_seed: int) -> list[int]:
    """`count` uploads of CODES codes, POSTed by a few clients at once; their ids."""

    def one(seed: int) -> int:
        path = work / f"hook-{seed}.txt"
        write_txt(path, CODES, seed)
        try:
            return upload(server, path)
        finally:
            path.unlink()

    with ThreadPoolExecutor(UPLOADING_CLIENTS) as clients:
        return list(clients.map(one, range(first_seed, first_seed + count)))


def decided_at(server: Server, upload_ids: Sequence[int]) -> dict[int, float]:
    """Each upload's decision, by the database's clock (the machine's), as Unix time."""
    with closing(psycopg2.connect(server.database_url)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, extract(epoch FROM finished_at) FROM upload_requests WHERE id = ANY(%s)", (list(upload_ids),)
        )
        return {int(upload_id): float(at) for upload_id, at in cursor.fetchall() if at is not None}


def latency_figures(decided: dict[int, float], arrivals: Sequence[tuple[int, float]]) -> dict[str, Any]:
    """Decision to arrival, in seconds, for each upload's first delivery."""
    first: dict[int, float] = {}
    for upload_id, at in arrivals:
        first[upload_id] = min(at, first.get(upload_id, at))
    seconds = [first[upload_id] - decided[upload_id] for upload_id in first if upload_id in decided]
    return {
        "deliveries": len(seconds),
        "median_s": statistics.median(seconds),
        "p95_s": percentile(seconds, 0.95),
        "max_s": max(seconds),
    }


def rate_figures(start: float, arrivals: Sequence[tuple[int, float]]) -> dict[str, Any]:
    """Deliveries a second from `start` (Unix time) to the last arrival."""
    seconds = max(at for _, at in arrivals) - start
    return {"deliveries": len(arrivals), "seconds": seconds, "per_second": len(arrivals) / seconds}


def replay_all(server: Server, upload_ids: Sequence[int]) -> float:
    """Every delivery of these uploads' messages due again now, in one
    statement (what shared.events.deliveries.replay does to one); its commit's Unix time."""
    with closing(psycopg2.connect(server.database_url)) as connection:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                """UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(),
                   retrying_since = now(), claim_token = NULL, finished_at = NULL
                   WHERE message_id IN (
                       SELECT id FROM webhook_messages WHERE CAST(data ->> 'id' AS bigint) = ANY(%s))""",
                (list(upload_ids),),
            )
        return time.time()


def bare_posts(receiver: Receiver, count: int = BARE_POSTS) -> dict[str, Any]:
    """The yardstick: `count` POSTs to the receiver, one after another, a
    fresh connection each; POSTs a second."""
    body = json.dumps({"type": "bench", "data": {}}).encode()
    started = time.perf_counter()
    for _ in range(count):
        with closing(urllib3.HTTPConnectionPool("127.0.0.1", receiver.port, maxsize=1)) as pool:
            pool.urlopen("POST", "/hook", body=body, headers={"Content-Type": "application/json"}).drain_conn()
    seconds = time.perf_counter() - started
    return {"posts": count, "seconds": seconds, "per_second": count / seconds}


def run_webhooks(
    server: Server,
    work: Path,
    uploads: int = UPLOADS,
    throughput_uploads: int = THROUGHPUT_UPLOADS,
    receiver_delay_seconds: float = 0,
) -> dict[str, Any]:
    """Both steps against a service started with SERVER_SETTINGS; the figures, printed and returned."""
    with receiving(receiver_delay_seconds) as receiver:
        bare = bare_posts(receiver)
        register(server, receiver.url)
        ids = upload_many(server, work, uploads, SEED)
        receiver.wait_for(len(ids))
        latency = latency_figures(decided_at(server, ids), receiver.arrivals)
        print_latency(latency)

        for _ in range(ENDPOINTS - 1):
            register(server, receiver.url)
        receiver.arrivals.clear()
        ids = upload_many(server, work, throughput_uploads, SEED + uploads)
        expected = len(ids) * ENDPOINTS
        receiver.wait_for(expected)
        decided = decided_at(server, ids)
        live = rate_figures(min(decided.values()), receiver.arrivals)
        live["decisions_per_second"] = len(decided) / (max(decided.values()) - min(decided.values()) or 1e-9)
        live["last_decision_to_last_delivery_s"] = max(at for _, at in receiver.arrivals) - max(decided.values())

        arrived = len(receiver.arrivals)
        cpu_before, own_before = cpu.snapshot(server.process.pid, server.data_dir), time.process_time()
        started = replay_all(server, ids)
        receiver.wait_for(arrived + expected)
        drain = rate_figures(started, receiver.arrivals[arrived:])
        used = cpu.used_between(cpu_before, cpu.snapshot(server.process.pid, server.data_dir))
        drain["cpu_seconds"] = used | {"bench": time.process_time() - own_before}
    figures = {"latency": latency, "live": live, "drain": drain, "bare_posts": bare}
    figures["drain_over_bare"] = drain["per_second"] / bare["per_second"]
    print_throughput(figures)
    return figures


def print_latency(latency: dict[str, Any]) -> None:
    print(f"webhooks  decision to delivery, {latency['deliveries']:,} uploads, one endpoint: "
          f"median {latency['median_s'] * 1000:,.0f} ms, p95 {latency['p95_s'] * 1000:,.0f} ms, "
          f"max {latency['max_s'] * 1000:,.0f} ms (aim: median < 1 s)", flush=True)  # fmt: skip


def print_throughput(figures: dict[str, Any]) -> None:
    live, drain, bare = figures["live"], figures["drain"], figures["bare_posts"]
    print(f"webhooks  {ENDPOINTS} endpoints: {live['deliveries']:,} deliveries in {live['seconds']:.2f} s from the "
          f"first decision = {live['per_second']:,.0f}/s (uploads decided at {live['decisions_per_second']:,.0f}/s; "
          f"the last delivered {live['last_decision_to_last_delivery_s'] * 1000:,.0f} ms after the last decision)",
          flush=True)  # fmt: skip
    print(f"webhooks  {drain['deliveries']:,} made due at once: delivered in {drain['seconds']:.2f} s = "
          f"{drain['per_second']:,.0f}/s; bare POSTs to the same receiver {bare['per_second']:,.0f}/s; "
          f"ratio {figures['drain_over_bare']:.2f}", flush=True)  # fmt: skip
    used = ", ".join(f"{role} {seconds:.2f}" for role, seconds in drain["cpu_seconds"].items())
    print(f"webhooks  CPU seconds meanwhile: {used} (the receiver is the bench's)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=UPLOADS, help="uploads timed from decision to delivery")
    parser.add_argument("--throughput-uploads", type=int, default=THROUGHPUT_UPLOADS,
                        help=f"uploads with {ENDPOINTS} endpoints subscribed")  # fmt: skip
    parser.add_argument("--receiver-delay-ms", type=float, default=0,
                        help="how long the receiver waits before each answer (0: it answers at once)")  # fmt: skip
    arguments = parser.parse_args()
    with running_service(SERVER_SETTINGS) as (server, work):
        run_webhooks(server, work, arguments.uploads, arguments.throughput_uploads, arguments.receiver_delay_ms / 1000)


if __name__ == "__main__":
    main()
