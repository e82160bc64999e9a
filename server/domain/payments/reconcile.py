"""Reconciliation: Mercado Pago's payments of the last days against ours, every 15 minutes and on demand.

For each payment Mercado Pago reports (search by date of last update, so refunds and disputes of older
payments come back too):

- no row of ours and no link it belongs to → ``missing_locally``, for a person;
- our status behind MP's along the state machine (a lost notification) → fixed at once (the moves are
  applied and audited) and recorded as ``status_differs`` with ``autoFixed``;
- our status ahead of or away from MP's (no way there in the machine) → ``status_differs``, for a person;
- a different amount → ``amount_differs``, for a person.

Discrepancies are unique while open (one row per kind and MP payment), so running it again adds nothing.
"""

from __future__ import annotations

import datetime
import time
import uuid
from typing import TYPE_CHECKING, Any

from server.db.base import utcnow
from server.db.engine import tenant_transaction
from server.domain.payments import services
from server.domain.payments.connection import (
    client_for,
    connected_orgs,
    due_for_refresh,
    refresh_connection,
)
from server.domain.payments.webhooks import requeue_pending
from server.integrations.mercadopago import MercadoPagoError
from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.tasks import periodic, task
from shared.capabilities import Capability
from shared.errors import ErrorCode
from shared.schemas import payments as wire

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.payments.reconcile")

WINDOW = datetime.timedelta(days=3)
PAGE = 100
MAX_PAGES = 50


async def reconcile_org(
    resources: Resources, org_id: uuid.UUID, *, window: datetime.timedelta = WINDOW
) -> wire.ReconciliationReport:
    if not await resources.capabilities.is_enabled(resources.sessionmaker, Capability.MERCADOPAGO, org_id):
        raise AppError(ErrorCode.MERCADOPAGO_UNAVAILABLE)
    client = await client_for(resources, org_id)
    counts = {"checked": 0, "missing_locally": 0, "status_differs": 0, "amount_differs": 0, "auto_fixed": 0}
    end = utcnow()
    begin = end - window
    try:
        offset = 0
        for _ in range(MAX_PAGES):
            try:
                page, total = await client.search_payments(begin_date=begin, end_date=end, offset=offset, limit=PAGE)
            except MercadoPagoError:
                raise AppError(ErrorCode.MERCADOPAGO_UNAVAILABLE) from None
            for mp in page:
                counts["checked"] += 1
                async with tenant_transaction(resources.sessionmaker, org_id) as session:
                    applied = await services.apply_mp_payment(session, org_id, mp, source="reconciliation")
                for kind in applied.discrepancies:
                    counts[kind] += 1
                if applied.changes and "status_differs" in applied.discrepancies:
                    counts["auto_fixed"] += 1
            offset += len(page)
            if not page or offset >= total:
                break
    finally:
        await client.aclose()
    log.info("mercadopago reconciliation", org_id=str(org_id), **counts)
    return wire.ReconciliationReport(**counts)


@task(queue="payments", name="payments.reconcile_org", retries=3, retry_delay=30.0, backoff_max=300, timeout=300)
async def reconcile_org_task(ctx: Any, *, org_id: str | None = None) -> dict[str, Any]:
    resources: Resources = ctx["resources"]
    assert org_id is not None
    try:
        report = await reconcile_org(resources, uuid.UUID(org_id))
    except AppError as exc:
        if exc.code is ErrorCode.MERCADOPAGO_UNAVAILABLE:
            raise  # retried; the next scheduled run tries again anyway
        return {"outcome": exc.code.value}
    return {"outcome": "done", "checked": report.checked}


@periodic(cron="*/15 * * * *", queue="payments", name="payments.reconcile_all", timeout=120)
async def reconcile_all(ctx: Any, *, org_id: str | None = None) -> dict[str, Any]:
    """Every 15 minutes: one reconciliation job per connected organisation, and stuck notifications re-queued."""
    resources: Resources = ctx["resources"]
    queues = ctx.get("queues") or resources.queues
    bucket = int(time.time() // 900)
    orgs = await connected_orgs(resources)
    for org, _ in orgs:
        await queues.enqueue(reconcile_org_task, org_id=org, job_key=f"payments:reconcile:{org}:{bucket}")
    requeued = await requeue_pending(resources)
    return {"organisations": len(orgs), "requeued": requeued}


@periodic(cron="17 * * * *", queue="payments", name="payments.refresh_tokens", timeout=300)
async def refresh_tokens(ctx: Any, *, org_id: str | None = None) -> dict[str, Any]:
    """Hourly: refresh each connection in its last month (tokens last 180 days; each refresh rotates them)."""
    resources: Resources = ctx["resources"]
    now = utcnow()
    outcomes: dict[str, int] = {}
    for org, expires_at in await connected_orgs(resources):
        if not due_for_refresh(expires_at, now):
            continue
        try:
            outcome = await refresh_connection(resources, org)
        except MercadoPagoError:
            outcome = "unavailable"  # next hour
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


TASKS = [reconcile_org_task, reconcile_all, refresh_tokens]
