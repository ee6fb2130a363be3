"""Webhook deliveries: token lookup, delivery keys and the events that the Dagster sensor turns into runs.

A delivery is stored once per connection and delivery key. The key is the provider's delivery id
when a known header carries one. Without such a header it is the SHA-256 of the body plus a time
bucket, so a provider's quick retry of the same body counts once. The same body sent again later,
such as an empty ``curl -X POST``, triggers a new sync.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from resources.app_db.models import Connection, WebhookEvent, utc_now
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret

# Checked in this order, and the first one present is the delivery id.
DELIVERY_ID_HEADERS = ("x-opbox-delivery-id", "x-hubspot-request-id", "x-github-delivery", "x-request-id")
# Longer delivery ids are stored as their SHA-256, which fits the 128-character column.
MAX_DELIVERY_ID_CHARS = 100
# Tokens have 47 characters (32 in the legacy encoding), so a much longer one cannot match and is not hashed.
MAX_TOKEN_CHARS = 256
# Identical bodies without a delivery id that arrive within this window count as one delivery.
BODY_REPEAT_WINDOW = timedelta(minutes=5)

PENDING, LAUNCHED, COALESCED, SKIPPED = "PENDING", "LAUNCHED", "COALESCED", "SKIPPED"


@dataclass(frozen=True)
class DeliveryKey:
    """The key a delivery is stored under, and for a body hash the key of the previous time bucket."""

    value: str
    previous_bucket_value: str | None = None


@dataclass(frozen=True)
class RecordedDelivery:
    event_id: str
    duplicate: bool


def find_connection_by_token(session: Session, token: str) -> Connection | None:
    """Return the connection whose webhook token is ``token``, or None.

    The database lookup compares SHA-256 hashes, never tokens, so its timing reveals nothing
    about a valid token, and ``hmac.compare_digest`` confirms the match in constant time.
    """
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    token_hash = hash_secret(token)
    connection = session.scalar(select(Connection).where(Connection.webhook_token_hash == token_hash))
    if connection is None or not hmac.compare_digest(connection.webhook_token_hash, token_hash):
        return None
    return connection


def _body_bucket_key(body_hash: str, bucket: int) -> str:
    return f"body:{body_hash}:{bucket}"


def delivery_key(headers: Mapping[str, str], body: bytes, received_at: datetime) -> DeliveryKey:
    """Return the key of a delivery from its delivery id header, else from its body and arrival time."""
    for name in DELIVERY_ID_HEADERS:
        delivery_id = (headers.get(name) or "").strip()
        if not delivery_id:
            continue
        if len(delivery_id) <= MAX_DELIVERY_ID_CHARS and delivery_id.isprintable():
            return DeliveryKey(f"id:{delivery_id}")
        return DeliveryKey(f"id-sha256:{hashlib.sha256(delivery_id.encode()).hexdigest()}")
    body_hash = hashlib.sha256(body).hexdigest()
    bucket = int(received_at.timestamp() // BODY_REPEAT_WINDOW.total_seconds())
    return DeliveryKey(_body_bucket_key(body_hash, bucket), _body_bucket_key(body_hash, bucket - 1))


def _find_repeat(session: Session, connection_id: str, key: DeliveryKey, received_at: datetime) -> str | None:
    event_id = session.scalar(
        select(WebhookEvent.id).where(WebhookEvent.connection_id == connection_id, WebhookEvent.delivery_key == key.value)
    )
    if event_id is not None or key.previous_bucket_value is None:
        return event_id
    return session.scalar(
        select(WebhookEvent.id).where(
            WebhookEvent.connection_id == connection_id,
            WebhookEvent.delivery_key == key.previous_bucket_value,
            WebhookEvent.received_at >= received_at - BODY_REPEAT_WINDOW,
        )
    )


def record_delivery(
    database_url: str,
    connection: Connection,
    key: DeliveryKey,
    *,
    received_at: datetime,
    source_ip: str | None,
    body_bytes: int,
) -> RecordedDelivery:
    """Store a PENDING event for the delivery, or return the stored event when it is a repeat."""
    with session_scope(database_url) as session:
        repeat = _find_repeat(session, connection.id, key, received_at)
    if repeat is not None:
        return RecordedDelivery(repeat, duplicate=True)
    try:
        with session_scope(database_url) as session:
            event = WebhookEvent(
                connection_id=connection.id,
                workspace_id=connection.workspace_id,
                delivery_key=key.value,
                source_ip=source_ip,
                body_bytes=body_bytes,
                received_at=received_at,
            )
            session.add(event)
            session.flush()
            return RecordedDelivery(event.id, duplicate=False)
    except IntegrityError:
        # A concurrent request stored the same delivery between the check and the insert.
        with session_scope(database_url) as session:
            stored = _find_repeat(session, connection.id, key, received_at)
        if stored is None:
            raise
        return RecordedDelivery(stored, duplicate=True)


def pending_events(session: Session, limit: int) -> dict[str, list[str]]:
    """Return the ids of PENDING events by connection, oldest first, at most ``limit`` in all."""
    rows = session.execute(
        select(WebhookEvent.connection_id, WebhookEvent.id)
        .where(WebhookEvent.status == PENDING)
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
        .limit(limit)
    ).all()
    events: dict[str, list[str]] = {}
    for connection_id, event_id in rows:
        events.setdefault(connection_id, []).append(event_id)
    return events


def mark_events(session: Session, event_ids: list[str], status: str, sync_run_id: str | None) -> int:
    """Move the events that are still PENDING to ``status`` and return how many moved."""
    if not event_ids:
        return 0
    result = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(event_ids), WebhookEvent.status == PENDING)
        .values(status=status, sync_run_id=sync_run_id, processed_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
