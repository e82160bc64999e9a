"""Mercado Pago notifications: checked, stored, acknowledged at once, processed on the ``payments`` queue.

The webhook secret is the platform's (``CAMPOTECH_MERCADOPAGO_WEBHOOK_SECRET``): Mercado Pago signs every
notification of an application with that application's secret, and CampoTech is one application whose
sellers connect with OAuth. A bad, missing or stale ``x-signature`` is answered 401 and logged with the
reason and the request id (never the header, the secret or the body).

Idempotency: one stored row per (topic, data id). Every delivery bumps ``deliveries`` and queues a job
(``mp-webhook:<event>:<delivery>``); a job finds the event already processed after its delivery and does
nothing, otherwise it fetches the resource's *current* state from Mercado Pago and applies what differs
from ours. So a duplicate changes nothing, and a reordered "created" arriving after "updated" finds the
state already applied: each real change happens exactly once.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.db.models import MercadoPagoWebhookEvent
from server.domain.payments import services
from server.domain.payments.connection import access_token, client_for, org_for_mp_user
from server.integrations.mercadopago import (
    InvalidWebhookSignature,
    MercadoPagoNotFound,
    MercadoPagoPermanentError,
    verify_webhook_signature,
)
from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.tasks import task
from shared.capabilities import Capability
from shared.errors import ErrorCode
from shared.ids import new_id

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.payments.webhooks")

PAYMENT_TOPICS = frozenset({"payment", "payments"})
CHARGEBACK_TOPICS = frozenset({"chargebacks", "chargeback", "topic_chargebacks_wh"})
PROCESSED_TOPICS = PAYMENT_TOPICS | CHARGEBACK_TOPICS
WAIT_WHILE_DISABLED_SECONDS = 60.0
TOLERANCE_SECONDS = 300
MAX_BODY_STORED = 64 * 1024


@dataclass(frozen=True)
class Accepted:
    event_id: uuid.UUID
    topic: str
    data_id: str
    deliveries: int
    queued: bool


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:limit] or None


def parse_notification(query: dict[str, str], raw: bytes) -> tuple[dict[str, Any], str | None, str | None, str | None]:
    """(body, topic, data id, action) from the query string and the body, leniently (never raises)."""
    body: dict[str, Any]
    try:
        parsed = json.loads(raw) if raw else {}
        body = parsed if isinstance(parsed, dict) else {"raw": parsed}
    except (ValueError, UnicodeDecodeError):
        body = {"raw": raw[:MAX_BODY_STORED].decode("utf-8", "replace")}
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    data_id = _text(query.get("data.id"), 100) or _text(data.get("id"), 100) or _text(query.get("id"), 100)
    topic = _text(body.get("type"), 60) or _text(query.get("type"), 60) or _text(query.get("topic"), 60)
    if topic is None and isinstance(body.get("topic"), str):
        topic = _text(body.get("topic"), 60)
    action = _text(body.get("action"), 80)
    return body, (topic or "unknown").lower(), data_id, (action.lower() if action else None)


def check_signature(resources: Resources, headers: Any, data_id: str | None) -> None:
    secret = resources.settings.mercadopago_webhook_secret
    if not secret:
        log.warning("mercadopago webhook refused: no webhook secret configured")
        raise AppError(ErrorCode.MERCADOPAGO_NOT_CONFIGURED)
    try:
        verify_webhook_signature(
            x_signature=headers.get("x-signature"),
            x_request_id=headers.get("x-request-id"),
            data_id=data_id,
            secret=secret,
            now=time.time(),
            tolerance_seconds=TOLERANCE_SECONDS,
        )
    except InvalidWebhookSignature as exc:
        log.warning(
            "mercadopago webhook rejected",
            reason=exc.reason,
            request_id=(headers.get("x-request-id") or "")[:80] or None,
            data_id=(data_id or "")[:40] or None,
        )
        raise AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, details={"reason": exc.reason}) from None


async def accept(
    session: AsyncSession, resources: Resources, query: dict[str, str], headers: Any, raw: bytes
) -> Accepted:
    """Check, store (one row per topic and data id) and queue a notification; the caller answers 200."""
    body, topic, data_id, action = parse_notification(query, raw)
    check_signature(resources, headers, data_id)
    key = data_id or _text(headers.get("x-request-id"), 100) or str(new_id())
    if data_id is not None and data_id.isalnum():
        key = data_id.lower()
    user = _text(body.get("user_id"), 40)
    hint = None
    try:
        hint = uuid.UUID(query["org"]) if query.get("org") else None
    except ValueError:
        hint = None
    live = body.get("live_mode") if isinstance(body.get("live_mode"), bool) else None
    processed = topic in PROCESSED_TOPICS and data_id is not None
    now = utcnow()
    stored_body = body if len(raw) <= MAX_BODY_STORED else {"truncated": True}
    statement = insert(MercadoPagoWebhookEvent).values(
        id=new_id(),
        topic=topic,
        data_id=key,
        action=action,
        mp_user_id=user,
        org_hint=hint,
        live_mode=live,
        body=stored_body,
        deliveries=1,
        first_received_at=now,
        last_received_at=now,
        pending=processed,
        outcome=None if processed else "ignored_topic",
        changes=0,
        created_at=now,
        updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        constraint="uq_mercadopago_webhook_events_topic_data",
        set_={
            "deliveries": MercadoPagoWebhookEvent.deliveries + 1,
            "last_received_at": now,
            "action": statement.excluded.action,
            "body": statement.excluded.body,
            "mp_user_id": statement.excluded.mp_user_id,
            "org_hint": statement.excluded.org_hint,
            "pending": statement.excluded.pending,
            "updated_at": now,
        },
    ).returning(MercadoPagoWebhookEvent.id, MercadoPagoWebhookEvent.deliveries)
    row = (await session.execute(statement)).one()
    event_id, deliveries = row[0], int(row[1])
    await session.commit()
    queued = False
    if processed and resources.queues is not None:
        try:
            await resources.queues.enqueue(
                process_webhook, job_key=f"mp-webhook:{event_id}:{deliveries}", event_id=str(event_id)
            )
            queued = True
        except Exception:  # Redis down: the event is stored pending, the sweep queues it later
            log.warning("mercadopago webhook stored but not queued", event_id=str(event_id))
    return Accepted(event_id, topic, key, deliveries, queued)


# -- processing ---------------------------------------------------------------------------------------


async def _finish(
    resources: Resources,
    event_id: uuid.UUID,
    seen: int,
    outcome: str,
    changes: int,
    org_id: uuid.UUID | None,
) -> bool:
    """Mark processed unless another delivery came in meanwhile (then it stays pending for its own job)."""
    async with resources.sessionmaker() as session, session.begin():
        done = await session.execute(
            update(MercadoPagoWebhookEvent)
            .where(MercadoPagoWebhookEvent.id == event_id, MercadoPagoWebhookEvent.deliveries == seen)
            .values(
                pending=False,
                processed_at=utcnow(),
                outcome=outcome,
                org_id=org_id,
                changes=MercadoPagoWebhookEvent.changes + changes,
            )
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            await session.execute(
                update(MercadoPagoWebhookEvent)
                .where(MercadoPagoWebhookEvent.id == event_id)
                .values(changes=MercadoPagoWebhookEvent.changes + changes, org_id=org_id, outcome=outcome)
            )
            return False
    return True


async def _resolve_org(resources: Resources, event: MercadoPagoWebhookEvent) -> uuid.UUID | None:
    org_id = await org_for_mp_user(resources, event.mp_user_id) if event.mp_user_id else None
    if org_id is None and event.org_hint is not None:
        # the hint names the organisation our notification_url was made for: it counts only if that
        # organisation has a connected account (its token is what fetches the resource)
        if await access_token(resources, event.org_hint) is not None:
            org_id = event.org_hint
    elif org_id is not None and event.org_hint is not None and event.org_hint != org_id:
        log.warning("mercadopago webhook: org hint and account disagree; the account wins", event_id=str(event.id))
    return org_id


class WaitForMercadoPago(Exception):
    """Mercado Pago switched off for the organisation: the job re-queues itself for later."""


async def process_event(resources: Resources, event_id: uuid.UUID) -> dict[str, Any]:
    async with resources.sessionmaker() as session:
        event = await session.get(MercadoPagoWebhookEvent, event_id)
        session.expunge_all()
        await session.rollback()
    if event is None or not event.pending:
        return {"outcome": "skipped"}
    seen = event.deliveries
    org_id = await _resolve_org(resources, event)
    if org_id is None:
        await _finish(resources, event_id, seen, "unknown_account", 0, None)
        log.info("mercadopago webhook for an account we do not know", topic=event.topic)
        return {"outcome": "unknown_account"}
    if not await resources.capabilities.is_enabled(resources.sessionmaker, Capability.MERCADOPAGO, org_id):
        raise WaitForMercadoPago(str(org_id))
    try:
        client = await client_for(resources, org_id)
    except AppError:
        await _finish(resources, event_id, seen, "not_connected", 0, org_id)
        return {"outcome": "not_connected"}
    changes = 0
    try:
        if event.topic in PAYMENT_TOPICS:
            try:
                mp = await client.get_payment(event.data_id)
            except MercadoPagoNotFound:
                outcome = "not_found"
            else:
                async with tenant_transaction(resources.sessionmaker, org_id) as session:
                    applied = await services.apply_mp_payment(session, org_id, mp, source="webhook")
                outcome, changes = applied.outcome, applied.changes
        else:
            try:
                chargeback = await client.get_chargeback(event.data_id)
            except MercadoPagoNotFound:
                outcome = "not_found"
            else:
                try:
                    mp = await client.get_payment(chargeback.payment_id)
                except MercadoPagoPermanentError:
                    mp = None
                async with tenant_transaction(resources.sessionmaker, org_id) as session:
                    changes, outcome = await services.apply_chargeback(session, org_id, chargeback)
                    if mp is not None:
                        applied = await services.apply_mp_payment(session, org_id, mp, source="chargeback")
                        changes += applied.changes
    except MercadoPagoPermanentError as exc:
        outcome = f"refused_{exc.status or 'error'}"
    finally:
        await client.aclose()
    finished = await _finish(resources, event_id, seen, outcome, changes, org_id)
    if not finished and resources.queues is not None:
        async with resources.sessionmaker() as session:
            latest = await session.get(MercadoPagoWebhookEvent, event_id)
            session.expunge_all()
            await session.rollback()
        if latest is not None and latest.pending:
            await resources.queues.enqueue(
                process_webhook, job_key=f"mp-webhook:{event_id}:{latest.deliveries}", event_id=str(event_id)
            )
    return {"outcome": outcome, "changes": changes}


@task(queue="payments", name="payments.process_webhook", retries=8, retry_delay=2.0, backoff_max=300, timeout=60)
async def process_webhook(ctx: Any, *, event_id: str, org_id: str | None = None) -> dict[str, Any]:
    """Fetch what a notification is about from Mercado Pago and apply it (see the module docstring)."""
    resources: Resources = ctx["resources"]
    try:
        return await process_event(resources, uuid.UUID(event_id))
    except WaitForMercadoPago:
        queues = ctx.get("queues") or resources.queues
        bucket = int(time.time() // WAIT_WHILE_DISABLED_SECONDS)
        await queues.enqueue(
            process_webhook,
            job_key=f"mp-webhook:{event_id}:wait:{bucket}",
            delay_seconds=WAIT_WHILE_DISABLED_SECONDS,
            event_id=event_id,
        )
        log.info("mercadopago switched off: the notification waits", event_id=event_id)
        return {"outcome": "waiting"}


async def requeue_pending(resources: Resources, older_than_seconds: float = 120.0, limit: int = 500) -> int:
    """Queue the stored notifications still pending (Redis was down, or their jobs died): nothing is lost."""
    if resources.queues is None:
        return 0
    import datetime

    cutoff = utcnow() - datetime.timedelta(seconds=older_than_seconds)
    async with resources.sessionmaker() as session:
        rows = (
            await session.execute(
                select(MercadoPagoWebhookEvent.id, MercadoPagoWebhookEvent.deliveries)
                .where(MercadoPagoWebhookEvent.pending.is_(True), MercadoPagoWebhookEvent.last_received_at < cutoff)
                .limit(limit)
            )
        ).all()
        await session.rollback()
    bucket = int(time.time() // 60)
    for event_id, deliveries in rows:
        await resources.queues.enqueue(
            process_webhook, job_key=f"mp-webhook:{event_id}:{deliveries}:sweep:{bucket}", event_id=str(event_id)
        )
    return len(rows)
