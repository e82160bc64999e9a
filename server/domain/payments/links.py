"""Payment links: a Checkout Pro preference for what an issued invoice still owes, and the cuotas on offer.

The link's payment row is made first (``pending``, method mercadopago); its id is the preference's
``external_reference`` and the idempotency key sent to Mercado Pago, so a retried request never makes two
preferences. An active, unexpired link for the same amount is returned as is.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import Invoice, InvoiceLine, Organization, Payment, PaymentLink, PaymentLinkStatus
from server.domain.audit.services import record_by
from server.domain.payments.connection import calling_mercadopago, notification_url, require_enabled
from server.domain.payments.services import MAX_AMOUNT
from server.integrations.mercadopago import (
    PreferenceItem,
    PreferenceRequest,
)
from server.lib.context import RequestContext
from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.ids import new_id
from shared.money import to_money
from shared.payments.installments import FinancingError, financing_costs, label_figures
from shared.schemas import payments as wire
from shared.states.invoice import InvoiceStatus
from shared.states.payment import PaymentMethod, PaymentStatus

if TYPE_CHECKING:
    from server.runtime import Resources


DEFAULT_MAX_INSTALLMENTS = 12
DEFAULT_LINK_DAYS = 7
PAYABLE = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.SENT})


def link_wire(link: PaymentLink) -> wire.PaymentLink:
    return wire.PaymentLink(
        id=link.id,
        invoice_id=link.invoice_id,
        payment_id=link.payment_id,
        preference_id=link.preference_id,
        init_point=link.init_point,
        sandbox_init_point=link.sandbox_init_point,
        amount=link.amount,
        max_installments=link.max_installments,
        expires_at=link.expires_at,
        status=link.status.value,
        created_at=link.created_at,
    )


def _org_limits(org: Organization | None) -> tuple[int, int]:
    extra: dict[str, Any] = (org.settings if org else None) or {}
    try:
        cuotas = int(extra.get("mercadopago_max_installments") or DEFAULT_MAX_INSTALLMENTS)
        days = int(extra.get("payment_link_days") or DEFAULT_LINK_DAYS)
    except (TypeError, ValueError):
        cuotas, days = DEFAULT_MAX_INSTALLMENTS, DEFAULT_LINK_DAYS
    return max(1, min(cuotas, 24)), max(1, min(days, 60))


def _items(invoice: Invoice, lines: list[InvoiceLine], amount: Decimal) -> tuple[PreferenceItem, ...]:
    """The invoice's lines (final prices, IVA included); what is left to pay as one item when partly paid."""
    label = f"Factura {invoice.point_of_sale or 0:04d}-{invoice.number or 0:08d}"
    if amount == to_money(invoice.total_amount) and lines and all(line.total_amount > 0 for line in lines):
        items = tuple(
            PreferenceItem(
                id=str(line.id),
                title=line.description[:250],
                quantity=1,
                unit_price=to_money(line.total_amount),
                description=f"{label} · {line.quantity} × {line.unit_price}",
            )
            for line in lines
        )
        if sum((i.unit_price for i in items), Decimal("0")) == amount:
            return items
    return (PreferenceItem(id=str(invoice.id), title=f"Saldo de {label}", quantity=1, unit_price=amount),)


async def create_link(
    session: AsyncSession,
    resources: Resources,
    ctx: RequestContext,
    invoice_id: uuid.UUID,
    trace_id: str | None = None,
) -> wire.PaymentLink:
    assert ctx.org_id is not None
    invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    if invoice is None:
        raise AppError(ErrorCode.INVOICE_NOT_FOUND)
    if invoice.status is InvoiceStatus.PAID or (
        invoice.status in PAYABLE and to_money(invoice.total_amount - invoice.paid_amount) <= 0
    ):
        raise AppError(ErrorCode.PAYMENT_NOTHING_DUE)
    if invoice.status not in PAYABLE or invoice.kind != "invoice":
        raise AppError(
            ErrorCode.INVOICE_NOT_ISSUED,
            "El link de pago se genera para facturas emitidas (con CAE).",
            details={"status": str(invoice.status)},
        )
    await require_enabled(resources, ctx.org_id)
    amount = to_money(invoice.total_amount - invoice.paid_amount)
    now = utcnow()
    existing = await session.scalar(
        select(PaymentLink)
        .where(PaymentLink.invoice_id == invoice_id, PaymentLink.status == PaymentLinkStatus.ACTIVE)
        .order_by(PaymentLink.created_at.desc())
        .limit(1)
    )
    if existing is not None:
        if existing.amount == amount and (existing.expires_at is None or existing.expires_at > now):
            return link_wire(existing)
        existing.status = (
            PaymentLinkStatus.REPLACED
            if existing.expires_at and existing.expires_at > now
            else PaymentLinkStatus.EXPIRED
        )
    org = await session.get(Organization, ctx.org_id)
    max_installments, days = _org_limits(org)
    expires_at = now + datetime.timedelta(days=days)
    lines = list(
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
        )
    )
    payment = Payment(
        id=new_id(),
        org_id=ctx.org_id,
        invoice_id=invoice_id,
        status=PaymentStatus.PENDING,
        method=PaymentMethod.MERCADOPAGO,
        amount=amount,
        refunded_amount=Decimal("0"),
        currency="ARS",
        installments=1,
        recorded_by_id=ctx.user_id,
        provider_data={},
    )
    session.add(payment)
    await session.flush()
    request = PreferenceRequest(
        items=_items(invoice, lines, amount),
        external_reference=str(payment.id),
        notification_url=notification_url(resources.settings, ctx.org_id),
        max_installments=max_installments,
        expires_at=expires_at,
        statement_descriptor=(org.name if org else "CampoTech")[:22],
    )
    async with calling_mercadopago(resources, ctx.org_id, refused="mercadopago refused the preference") as client:
        preference = await client.create_preference(request, idempotency_key=str(payment.id))
    link = PaymentLink(
        id=new_id(),
        org_id=ctx.org_id,
        invoice_id=invoice_id,
        payment_id=payment.id,
        preference_id=preference.id,
        init_point=preference.init_point,
        sandbox_init_point=preference.sandbox_init_point,
        amount=amount,
        max_installments=max_installments,
        expires_at=preference.expires_at or expires_at,
        status=PaymentLinkStatus.ACTIVE,
        created_by_id=ctx.user_id,
    )
    session.add(link)
    await session.flush()
    await record_by(
        session,
        ctx,
        "payment_link.created",
        "invoice",
        invoice_id,
        None,
        {"paymentId": str(payment.id), "preferenceId": preference.id, "amount": str(amount)},
        trace_id=trace_id,
    )
    return link_wire(link)


async def current_link(session: AsyncSession, invoice_id: uuid.UUID) -> wire.PaymentLink:
    link = await session.scalar(
        select(PaymentLink).where(PaymentLink.invoice_id == invoice_id).order_by(PaymentLink.created_at.desc()).limit(1)
    )
    if link is None:
        raise AppError(ErrorCode.NOT_FOUND, "Esta factura todavía no tiene link de pago.")
    return link_wire(link)


async def installments(
    resources: Resources,
    org_id: uuid.UUID,
    amount: Decimal,
    payment_method_id: str | None,
    issuer_id: str | None,
) -> wire.Installments:
    """The cuotas Mercado Pago offers for ``amount``, each with CFT and TEA (MP's labels, or our model)."""
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise AppError(ErrorCode.PAYMENT_AMOUNT_INVALID, details={"field": "amount"})
    amount = to_money(amount)
    await require_enabled(resources, org_id)
    async with calling_mercadopago(resources, org_id) as client:
        options = await client.installments(amount, payment_method_id=payment_method_id, issuer_id=issuer_id)
    out = []
    for option in options:
        cft, tea = label_figures(list(option.labels))
        source = "mercadopago"
        if cft is None or tea is None:
            source = "calculated"
            try:
                cft, tea = financing_costs(amount, option.installments, option.total_amount)
            except FinancingError:
                cft, tea, source = None, None, "unavailable"
        out.append(
            wire.InstallmentOption(
                payment_method_id=option.payment_method_id,
                issuer_id=option.issuer_id,
                issuer_name=option.issuer_name,
                installments=option.installments,
                installment_rate=option.installment_rate,
                installment_amount=option.installment_amount,
                total_amount=option.total_amount,
                cft=cft,
                tea=tea,
                figures_source=source,
                recommended_message=option.recommended_message,
            )
        )
    return wire.Installments(amount=amount, options=out)
