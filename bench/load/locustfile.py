"""The locust side of `make load`: each user is one publisher that uploads a
10,000-code TXT file, polls it until it is decided, and uploads the next.

Run by bench/load/run.py in a locust process of its own: locust monkey-patches
the standard library with gevent on import, so nothing else imports this
module. It reads the publishers from the JSON file named by LOAD_PUBLISHERS
and, on quitting, writes every request it made to LOAD_RECORDS (exact
timings, where locust's own percentiles are rounded)."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, events, task

from bench.files import txt_chunks
from bench.load.plan import CODES_PER_FILE, POLL_SECONDS, STATUS, UPLOAD

PENDING = ("queued", "processing")

_publishers = iter(json.loads(Path(os.environ["LOAD_PUBLISHERS"]).read_text()))
_records: list[dict[str, Any]] = []
_window: dict[str, float] = {}


class Publisher(HttpUser):
    def on_start(self) -> None:
        # One publisher per user, so that no two users share a key's rate limit.
        publisher = next(_publishers)
        self.product_id = int(publisher["product_id"])
        self.client.headers["Authorization"] = f"Bearer {publisher['api_key']}"
        self.files = itertools.count()

    @task
    def upload_and_watch(self) -> None:
        upload_id = self.upload()
        while upload_id is not None and self.status(upload_id) in PENDING:
            time.sleep(POLL_SECONDS)  # gevent's sleep: the monkey-patching covers time

    def upload(self) -> int | None:
        body = b"".join(txt_chunks(CODES_PER_FILE, random.getrandbits(63), product_id=self.product_id))
        name = f"codes-{self.product_id}-{next(self.files)}.txt"
        path = f"/api/v1/products/{self.product_id}/uploads"
        with self.client.post(path, files={"file": (name, body, "text/plain")}, name=UPLOAD,
                              catch_response=True) as response:  # fmt: skip
            if response.status_code != 202:
                response.failure(_why(response))
                return None
            return int(response.json()["id"])

    def status(self, upload_id: int) -> str | None:
        with self.client.get(f"/api/v1/uploads/{upload_id}", name=STATUS, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(_why(response))
                return None
            return str(response.json()["status"])


def _why(response: Any) -> str:
    """The answer's status and body, or the connection error when none came."""
    return f"{response.status_code}: {response.error or response.text[:200]}"


@events.request.add_listener
def _record(name: str, response_time: float, response: Any, exception: Exception | None, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0  # 0: no answer (refused, reset, timed out)
    error = repr(exception) if exception else None
    _records.append({"name": name, "ms": response_time, "status": status, "error": error})


@events.test_start.add_listener
def _started(**_: Any) -> None:
    _window["started"] = time.time()


@events.test_stop.add_listener
def _stopped(**_: Any) -> None:
    _window["stopped"] = time.time()


@events.quitting.add_listener
def _write_records(**_: Any) -> None:
    Path(os.environ["LOAD_RECORDS"]).write_text(json.dumps({"window": _window, "requests": _records}))
