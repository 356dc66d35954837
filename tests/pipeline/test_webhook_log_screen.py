"""The Webhooks screen with the session's real worker and beat
(docs/product.md#the-webhooks-screen): an endpoint registered through the
form at a real receiver on 127.0.0.1 (the session's settings allow private
networks), a test event sent from its page, delivered by the worker, and
the attempt with its 200 seen in the endpoint's delivery log; a Replay
from the log reaches the receiver again with the same webhook-id."""

from __future__ import annotations

import re
import time
from typing import Any

from flask.testing import FlaskClient

from tests.events.receiver import receiver
from tests.pipeline.conftest import WorkerProcesses
from tests.web.test_webhook_screens import logged_in, register, secret_on


def wait_for_log(client: FlaskClient, path: str, pattern: str, timeout: float = 30) -> str:
    """The endpoint's page once `pattern` appears in it (the worker delivers meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        html = client.get(path).get_data(as_text=True)
        if re.search(pattern, html) or time.monotonic() > deadline:
            return html
        time.sleep(0.2)


def test_a_test_event_sent_from_the_screen_is_delivered_and_its_attempt_shown_in_the_log(
    client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    token = logged_in(client, make_tenant("Acme"))
    with receiver() as hooks:
        registered = register(client, token, url=hooks.url)
        assert registered.status_code == 200
        secret = secret_on(registered)
        assert secret is not None
        page = re.search(r'href="(/webhooks/\d+)">Send it a test event', registered.get_data(as_text=True))
        assert page
        path = page.group(1)

        assert client.post(f"{path}/test", data={"csrf_token": token}).status_code == 303
        delivered = wait_for_log(client, path, r">Succeeded</span>")

        assert ">Succeeded</span>" in delivered, delivered
        assert re.search(
            r'<td>200</td>\s*<td class="num">[\d,]+ ms</td>\s*<td class="response"><code>ok</code>', delivered
        )
        (got,) = hooks.received
        (verified,) = hooks.verified(secret)
        assert verified["type"] == "webhook.test"
        message_id = got.headers["webhook-id"]
        assert message_id in delivered

        replayed = client.post(f"{path}/deliveries/{message_id}/replay", data={"csrf_token": token})
        assert replayed.status_code == 303
        hooks.wait_for(2)
        assert [one.headers["webhook-id"] for one in hooks.received] == [message_id, message_id]
        again = wait_for_log(client, path, r"(?s)(<td>200</td>.*){2}")

    assert len(re.findall(r"<td>200</td>", again)) == 2, again
    assert secret.removeprefix("whsec_") not in workers.log()  # secrets never appear in logs
