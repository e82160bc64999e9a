"""What the office sees about electronic invoicing: AFIP on or off, what waits, what needs a person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import DeadLetterJob, DeadLetterStatus, Invoice
from server.domain.invoices.issuing import circuit_open
from server.lib.context import RequestContext
from shared.capabilities import Capability
from shared.schemas.invoices import AfipQueueStatus
from shared.states.invoice import InvoiceStatus

if TYPE_CHECKING:
    from server.runtime import Resources


def banner(enabled: bool, reason: str | None, pending: int, failed: int) -> str:
    """The sentence the UI shows (es-AR)."""
    if not enabled:
        because = f" ({reason})" if reason else ""
        return (
            f"AFIP no está disponible por ahora{because}. Las facturas quedan en espera "
            f"({pending}) y se emiten solas cuando vuelva."
        )
    if failed:
        return f"Hay {failed} factura(s) que AFIP no pudo emitir después de varios intentos: revisalas."
    if pending:
        return f"Hay {pending} factura(s) esperando el CAE de AFIP."
    return "La facturación electrónica funciona con normalidad."


async def queue_status(session: AsyncSession, resources: Resources, ctx: RequestContext) -> AfipQueueStatus:
    assert ctx.org_id is not None
    effective = await resources.capabilities.effective(session, Capability.AFIP, ctx.org_id)
    enabled, reason = effective.enabled, effective.reason
    if enabled and await circuit_open(resources):
        enabled, reason = False, "AFIP no responde; reintentamos en unos minutos"
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(Invoice.requested_at)).where(Invoice.status == InvoiceStatus.PENDING_CAE)
        )
    ).one()
    rejected = await session.scalar(
        select(func.count()).where(Invoice.status == InvoiceStatus.DRAFT, Invoice.rejected_at.is_not(None))
    )
    failed = await session.scalar(
        select(func.count()).where(
            DeadLetterJob.org_id == ctx.org_id,
            DeadLetterJob.function == "invoices.issue",
            DeadLetterJob.status == DeadLetterStatus.DEAD,
        )
    )
    return AfipQueueStatus(
        afip_enabled=enabled,
        reason=reason,
        pending=int(pending or 0),
        oldest_pending_since=oldest,
        rejected_drafts=int(rejected or 0),
        failed=int(failed or 0),
        message=banner(enabled, reason, int(pending or 0), int(failed or 0)),
    )
