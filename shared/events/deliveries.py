"""Delivering the outbox: claim a due delivery, send it, record the attempt
(docs/architecture.md#webhooks-the-outbox-and-delivery).

    claim_due ──▶ (commit) ──▶ send: check the URL's addresses, sign, POST ──▶ record (its own transaction)

A claim moves the delivery's next_attempt_at past the longest an attempt
can take and gives it a fresh token, in one guarded UPDATE of a row chosen
with FOR UPDATE SKIP LOCKED: two workers never take the same delivery, and
no transaction stays open while a receiver is waited on. A worker that dies
mid-attempt leaves the delivery due again when that time has passed (at
least once); the record matches on the token, so a late result changes
nothing. All times are the database's clock."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from shared.config import WebhookSettings
from shared.errors import Conflict, InvalidValue, NotFound
from shared.events import addresses, endpoints, secrets, sending, signing
from shared.events.schedule import next_delay
from shared.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from shared.shapes import iso
from shared.statuses import DeliveryStatus

# What an attempt may take beyond the receiver's timeout (resolving, signing, recording).
CLAIM_MARGIN_SECONDS = 15
# Deliveries one run of the task sends at once (deliver_due).
SENDERS = 4
# The attempts each delivery of a log shows, newest first.
LOGGED_ATTEMPTS = 20

_CLAIM = text(
    """
    UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => :hold), claim_token = :token
    WHERE id = (
        SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, endpoint_id, message_id, attempts
    """
)


@dataclass(frozen=True)
class Due:
    """A claimed delivery and what its attempt sends."""

    delivery_id: int
    token: uuid.UUID
    attempts: int  # made before this one
    url: str
    message_id: str
    body: bytes
    secrets: list[str]


def claim_due(session: Session, policy: WebhookSettings, server_key: str) -> Due | None:
    """The most overdue pending delivery, claimed; None when none is due. A
    delivery to an endpoint disabled meanwhile is given up here instead."""
    token = uuid.uuid4()
    claimed = session.execute(_CLAIM, {"hold": policy.timeout_seconds + CLAIM_MARGIN_SECONDS, "token": token}).first()
    if claimed is None:
        return None
    endpoint = session.get_one(WebhookEndpoint, claimed.endpoint_id)
    message = session.get_one(WebhookMessage, claimed.message_id)
    if not endpoint.enabled:
        _finish(session, claimed.id, token, DeliveryStatus.FAILED, error="the endpoint is disabled")
        return claim_due(session, policy, server_key)
    previous_signs = bool(
        endpoint.previous_secret_until is not None
        and session.scalar(select(endpoint.previous_secret_until > func.now()))  # type: ignore[operator]
    )
    try:
        signers = endpoints.signing_secrets(endpoint, server_key, previous_signs)
    except secrets.SecretUnreadable:
        why = "the endpoint's secret cannot be read since the server's SECRET_KEY changed; rotate the secret"
        _finish(session, claimed.id, token, DeliveryStatus.FAILED, error=why)
        return claim_due(session, policy, server_key)
    return Due(
        delivery_id=claimed.id,
        token=token,
        attempts=claimed.attempts,
        url=endpoint.url,
        message_id=message.message_id,
        body=body_of(message),
        secrets=signers,
    )


def body_of(message: WebhookMessage) -> bytes:
    """`{"type", "timestamp", "data"}`, the same bytes at every attempt."""
    body = {"type": message.type, "timestamp": iso(message.created_at), "data": message.data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def send(due: Due, policy: WebhookSettings, now: datetime.datetime | None = None) -> sending.Outcome:
    """Check the URL's addresses again (they may have changed since it was
    registered), sign with the time of this attempt, and POST."""
    try:
        target = addresses.checked(due.url, policy)
    except InvalidValue as refused:
        return sending.Outcome(None, "", f"refused: {refused}", 0)
    timestamp = int((now or datetime.datetime.now(datetime.UTC)).timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "licensecodes-webhooks/1",
        "webhook-id": due.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(due.secrets, due.message_id, timestamp, due.body),
    }
    return sending.post(target, headers, due.body, policy.timeout_seconds)


def record(session: Session, due: Due, outcome: sending.Outcome, policy: WebhookSettings) -> str:
    """Log the attempt and move the delivery: succeeded; given up (a 410,
    or failing since `give_up_seconds`), which disables the endpoint with
    the reason; or due again after the schedule's wait. Returns the
    delivery's status, or "lost" when another worker claimed it meanwhile."""
    held = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == due.delivery_id, WebhookDelivery.claim_token == due.token)
        .with_for_update()
    )
    if held is None:
        return "lost"
    session.add(
        WebhookAttempt(
            delivery_id=due.delivery_id,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            response=outcome.response,
            error=outcome.error,
        )
    )
    attempts, code, error = held.attempts + 1, outcome.status_code, _error_of(outcome)
    if outcome.succeeded:
        return _finish(session, held.id, due.token, DeliveryStatus.SUCCEEDED, attempts, code, error)
    why = _why_give_up(session, held, outcome, policy)
    if why is not None:
        _disable(session, held.endpoint_id, why)
        return _finish(session, held.id, due.token, DeliveryStatus.FAILED, attempts, code, error)
    wait = next_delay(attempts, policy.retry_schedule)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == held.id)
        .values(
            attempts=attempts,
            last_status_code=code,
            last_error=error,
            claim_token=None,
            next_attempt_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, wait),
        )
    )
    return DeliveryStatus.PENDING


def _error_of(outcome: sending.Outcome) -> str | None:
    if outcome.error is not None:
        return outcome.error
    return None if outcome.succeeded else f"the endpoint answered {outcome.status_code}"


def _why_give_up(
    session: Session, held: WebhookDelivery, outcome: sending.Outcome, policy: WebhookSettings
) -> str | None:
    if outcome.status_code == 410:
        return "the endpoint answered 410 Gone"
    failing_for = session.scalar(select(func.extract("epoch", func.now() - held.retrying_since)))
    if float(failing_for or 0) >= policy.give_up_seconds:
        hours = round(policy.give_up_seconds / 3600, 1)
        return f"deliveries failed for {hours:g} hours; the last: {_error_of(outcome)}"
    return None


def _disable(session: Session, endpoint_id: int, why: str) -> None:
    session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(enabled=False, disabled_reason=why)
    )


def _finish(
    session: Session,
    delivery_id: int,
    token: uuid.UUID,
    status: DeliveryStatus,
    attempts: int | None = None,
    last_status_code: int | None = None,
    error: str | None = None,
) -> str:
    values: dict[str, Any] = {
        "status": status.value,
        "next_attempt_at": None,
        "claim_token": None,
        "finished_at": func.now(),
        "last_status_code": last_status_code,
        "last_error": error,
    }
    if attempts is not None:
        values["attempts"] = attempts
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claim_token == token)
        .values(**values)
    )
    return status.value


@dataclass(frozen=True)
class Logged:
    """A delivery as the log shows it, with its latest attempts."""

    delivery: WebhookDelivery
    message: WebhookMessage
    attempts: Sequence[WebhookAttempt]


def log_of(
    session: Session, publisher_id: int, endpoint_id: int, limit: int, before: int | None = None
) -> list[Logged]:
    """The endpoint's deliveries, newest first, `limit` of them from before the delivery id `before`."""
    endpoints.endpoint_of(session, publisher_id, endpoint_id)
    query = (
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = session.execute(query).all()
    attempts = _attempts_of(session, [delivery.id for delivery, _ in rows])
    return [Logged(delivery, message, attempts.get(delivery.id, [])) for delivery, message in rows]


def _attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    if not delivery_ids:
        return {}
    newest_first = func.row_number().over(partition_by=WebhookAttempt.delivery_id, order_by=WebhookAttempt.id.desc())
    ranked = (
        select(WebhookAttempt, newest_first.label("n")).where(WebhookAttempt.delivery_id.in_(delivery_ids)).subquery()
    )
    attempt = aliased(WebhookAttempt, ranked)
    found: dict[int, list[WebhookAttempt]] = {}
    latest = select(attempt).where(ranked.c.n <= LOGGED_ATTEMPTS).order_by(attempt.delivery_id, attempt.id.desc())
    for row in session.scalars(latest):
        found.setdefault(row.delivery_id, []).append(row)
    return found


def replay(session: Session, publisher_id: int, endpoint_id: int, message_id: str) -> WebhookDelivery:
    """Send the message to the endpoint again, now, with the same webhook-id
    (receivers de-duplicate by it). Its attempts stay in the log; the three
    days of the schedule start again."""
    endpoint = endpoints.endpoint_of(session, publisher_id, endpoint_id)
    delivery = session.scalar(
        select(WebhookDelivery)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookMessage.message_id == message_id)
        .with_for_update(of=WebhookDelivery)
    )
    if delivery is None:
        raise NotFound(f"webhook endpoint {endpoint_id} has no message {message_id}")
    if not endpoint.enabled:
        raise Conflict(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(
            status=DeliveryStatus.PENDING.value,
            next_attempt_at=func.now(),
            retrying_since=func.now(),
            claim_token=None,
            finished_at=None,
        )
    )
    session.refresh(delivery)
    return delivery


@dataclass(frozen=True)
class Delivered:
    attempts: int
    succeeded: int


def deliver_due(
    sessions: sessionmaker[Session],
    policy: WebhookSettings,
    server_key: str,
    budget_seconds: float,
    senders: int = SENDERS,
) -> Delivered:
    """Claim, send and record due deliveries until none is due or
    `budget_seconds` have passed, `senders` at once: a receiver's answer
    takes far longer than a claim, so one sender would leave the database
    and the network idle most of the time
    (docs/architecture.md#webhooks-the-outbox-and-delivery). Each claim is
    its own short transaction, and none is open while a receiver is waited on."""
    deadline = time.monotonic() + budget_seconds
    if senders <= 1:
        return _deliver_until(sessions, policy, server_key, deadline)
    with ThreadPoolExecutor(senders, thread_name_prefix="webhook-sender") as pool:
        runs = [pool.submit(_deliver_until, sessions, policy, server_key, deadline) for _ in range(senders)]
        done = [run.result() for run in runs]
    return Delivered(sum(one.attempts for one in done), sum(one.succeeded for one in done))


def _deliver_until(
    sessions: sessionmaker[Session], policy: WebhookSettings, server_key: str, deadline: float
) -> Delivered:
    """One sender: claim, send, record, one delivery after another."""
    attempts = succeeded = 0
    while time.monotonic() < deadline:
        with sessions.begin() as session:
            due = claim_due(session, policy, server_key)
        if due is None:
            break
        outcome = send(due, policy)
        with sessions.begin() as session:
            record(session, due, outcome, policy)
        attempts += 1
        succeeded += outcome.succeeded
    return Delivered(attempts, succeeded)


def any_due(session: Session) -> bool:
    """Whether a pending delivery is due now (the index of due deliveries answers it)."""
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.status == DeliveryStatus.PENDING.value, WebhookDelivery.next_attempt_at <= func.now()
    )
    return bool(session.scalar(select(due.exists())))
