"""Signatures the `standardwebhooks` library verifies, the secrets sealed
at rest, and the retry schedule's jitter."""

from __future__ import annotations

import base64
import datetime
import random

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.config import WEBHOOK_RETRY_SCHEDULE
from shared.events import secrets
from shared.events.schedule import next_delay
from shared.events.signing import signature_header

BODY = b'{"data":{"id":1},"timestamp":"2026-12-06T17:00:00Z","type":"upload.completed"}'


def _headers(signature: str, timestamp: int) -> dict[str, str]:
    return {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def _now() -> int:
    return int(datetime.datetime.now(datetime.UTC).timestamp())


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secret = secrets.new_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != secrets.new_secret()


def test_the_standardwebhooks_library_verifies_a_signed_message() -> None:
    secret, now = secrets.new_secret(), _now()

    verified = Webhook(secret).verify(BODY, _headers(signature_header([secret], "msg_1", now, BODY), now))

    assert verified["type"] == "upload.completed"


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new, now = secrets.new_secret(), secrets.new_secret(), _now()
    header = signature_header([new, old], "msg_1", now, BODY)

    assert len(header.split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, _headers(header, now))
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets.new_secret()).verify(BODY, _headers(header, now))


def test_a_changed_body_does_not_verify() -> None:
    secret, now = secrets.new_secret(), _now()
    header = signature_header([secret], "msg_1", now, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"1", b"2"), _headers(header, now))


def test_a_sealed_secret_opens_only_with_the_server_key() -> None:
    secret = secrets.new_secret()
    sealed = secrets.seal(secret, "server-key")

    assert secret.removeprefix("whsec_") not in sealed
    assert secrets.unseal(sealed, "server-key") == secret
    with pytest.raises(secrets.SecretUnreadable):
        secrets.unseal(sealed, "another-key")


def test_each_wait_of_the_schedule_is_jittered_by_a_tenth_at_most() -> None:
    rng = random.Random(7)
    for failed in range(1, 12):
        base = WEBHOOK_RETRY_SCHEDULE[min(failed, len(WEBHOOK_RETRY_SCHEDULE)) - 1]
        waits = {next_delay(failed, WEBHOOK_RETRY_SCHEDULE, rng) for _ in range(50)}
        assert all(base * 0.9 <= wait <= base * 1.1 for wait in waits)
        assert len(waits) > 1
    assert WEBHOOK_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000)
