"""Payments: manual payments, the invoice's paid amount, refunds, disputes, discrepancies, and applying
what Mercado Pago says about a payment.

The invoice's ``paid_amount`` is always recomputed from its payments (``shared.payments.rules``) under a
row lock on the invoice, and its status follows ``status_after_payments`` (paid when covered, back to sent
when a refund or chargeback leaves it short). Every state change of a payment is one audit entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import (
    DiscrepancyKind,
    Dispute,
    Invoice,
    Payment,
    PaymentLink,
    PaymentLinkStatus,
    ReconciliationDiscrepancy,
    Refund,
    RefundStatus,
)
from server.domain.audit.services import record, record_by
from server.integrations.mercadopago import MpChargeback, MpPayment
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.logging import get_logger
from shared.errors import ErrorCode
from shared.ids import new_id
from shared.money import to_money
from shared.payments.rules import (
    DISPUTE_MACHINE,
    DisputeStatus,
    RefundProblem,
    check_refund,
    dispute_status_from_mp,
    exceeds_balance,
    invoice_paid_total,
    refundable,
    status_after_refund,
)
from shared.schemas import payments as wire
from shared.states.invoice import InvoiceStatus, status_after_payments
from shared.states.payment import (
    PAYMENT_MACHINE,
    REFUNDABLE,
    PaymentMethod,
    PaymentStatus,
    UnknownMercadoPagoStatus,
    mp_status_to_ours,
    path_to,
    resolve_target,
)

log = get_logger("campotech.payments")

MAX_AMOUNT = Decimal("9999999999.99")


# -- reading ----------------------------------------------------------------------------------------


def refund_wire(refund: Refund) -> wire.Refund:
    return wire.Refund(
        id=refund.id,
        payment_id=refund.payment_id,
        amount=refund.amount,
        status=refund.status.value,
        external_id=refund.external_id,
        reason=refund.reason,
        created_at=refund.created_at,
    )


async def payment_wire(session: AsyncSession, payment: Payment) -> wire.Payment:
    refunds = list(
        await session.scalars(select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.created_at))
    )
    return wire.Payment(
        id=payment.id,
        invoice_id=payment.invoice_id,
        status=PaymentStatus(payment.status),
        status_detail=payment.status_detail,
        method=PaymentMethod(payment.method),
        amount=payment.amount,
        refunded_amount=payment.refunded_amount,
        refundable_amount=refundable(payment.amount, payment.refunded_amount)
        if payment.status in REFUNDABLE
        else Decimal("0.00"),
        currency=payment.currency,
        installments=payment.installments,
        external_id=payment.external_id,
        reference=payment.reference,
        notes=payment.notes,
        paid_at=payment.paid_at,
        recorded_by_id=payment.recorded_by_id,
        created_at=payment.created_at,
        refunds=[refund_wire(r) for r in refunds],
    )


async def get_payment(session: AsyncSession, payment_id: uuid.UUID, *, lock: bool = False) -> Payment:
    statement = select(Payment).where(Payment.id == payment_id)
    if lock:
        statement = statement.with_for_update()
    payment = await session.scalar(statement)
    if payment is None:
        raise AppError(ErrorCode.PAYMENT_NOT_FOUND)
    return payment


async def list_payments(
    session: AsyncSession,
    *,
    invoice_id: uuid.UUID | None,
    status: PaymentStatus | None,
    limit: int,
    offset: int,
) -> wire.PaymentPage:
    statement = select(Payment)
    if invoice_id is not None:
        statement = statement.where(Payment.invoice_id == invoice_id)
    if status is not None:
        statement = statement.where(Payment.status == status)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(
        statement.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit).offset(offset)
    )
    return wire.PaymentPage(
        items=[await payment_wire(session, p) for p in rows], total=int(total), limit=limit, offset=offset
    )


# -- the invoice's paid amount ------------------------------------------------------------------------


async def recompute_invoice(
    session: AsyncSession, org_id: uuid.UUID, invoice_id: uuid.UUID | None, actor_id: uuid.UUID | None
) -> Invoice | None:
    """Set the invoice's ``paid_amount`` from its payments and move its status by the shared rule."""
    if invoice_id is None:
        return None
    invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    if invoice is None:
        return None
    rows = (
        await session.execute(
            select(Payment.status, Payment.amount, Payment.refunded_amount).where(Payment.invoice_id == invoice_id)
        )
    ).all()
    paid = invoice_paid_total((r[0], r[1], r[2]) for r in rows)
    before_status, before_paid = InvoiceStatus(invoice.status), invoice.paid_amount
    after_status = status_after_payments(before_status, invoice.total_amount, paid)
    if paid == before_paid and after_status is before_status:
        return invoice
    invoice.paid_amount = paid
    invoice.status = after_status
    await session.flush()
    if after_status is not before_status:
        await record(
            session,
            org_id=org_id,
            actor_id=actor_id,
            action="invoice.paid" if after_status is InvoiceStatus.PAID else "invoice.payment_reversed",
            entity_type="invoice",
            entity_id=invoice.id,
            before={"status": str(before_status), "paidAmount": str(before_paid)},
            after={"status": str(after_status), "paidAmount": str(paid)},
        )
    return invoice


# -- manual payments ----------------------------------------------------------------------------------


def _amount(value: Decimal, field_name: str = "amount") -> Decimal:
    try:
        if not value.is_finite() or value <= 0 or value > MAX_AMOUNT or value != value.quantize(Decimal("0.01")):
            raise AppError(ErrorCode.PAYMENT_AMOUNT_INVALID, details={"field": field_name})
    except InvalidOperation:
        raise AppError(ErrorCode.PAYMENT_AMOUNT_INVALID, details={"field": field_name}) from None
    return to_money(value)


async def _invoice_for_payment(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice:
    invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    if invoice is None:
        raise AppError(ErrorCode.INVOICE_NOT_FOUND)
    if invoice.status is InvoiceStatus.VOIDED or invoice.kind != "invoice":
        raise AppError(ErrorCode.PAYMENT_INVOICE_CLOSED, details={"status": str(invoice.status), "kind": invoice.kind})
    return invoice


async def record_manual_payment(
    session: AsyncSession, ctx: RequestContext, data: wire.ManualPaymentCreate, trace_id: str | None = None
) -> wire.Payment:
    """Cash, transfer (reference required) or cheque (number required), approved as it is recorded."""
    assert ctx.org_id is not None
    amount = _amount(data.amount)
    reference = (data.reference or "").strip() or None
    if data.method in (wire.ManualMethod.BANK_TRANSFER, wire.ManualMethod.CHEQUE) and reference is None:
        raise AppError(ErrorCode.PAYMENT_REFERENCE_REQUIRED, details={"field": "reference"})
    if data.invoice_id is not None:
        invoice = await _invoice_for_payment(session, data.invoice_id)
        if exceeds_balance(invoice.total_amount, invoice.paid_amount, amount):
            raise AppError(
                ErrorCode.PAYMENT_EXCEEDS_BALANCE,
                details={"balance": str(to_money(invoice.total_amount - invoice.paid_amount)), "amount": str(amount)},
            )
    payment = Payment(
        id=new_id(),
        org_id=ctx.org_id,
        invoice_id=data.invoice_id,
        status=PaymentStatus.APPROVED,
        method=PaymentMethod(data.method.value),
        amount=amount,
        refunded_amount=Decimal("0"),
        currency="ARS",
        installments=1,
        reference=reference,
        notes=data.notes,
        paid_at=data.paid_at or utcnow(),
        recorded_by_id=ctx.user_id,
        provider_data={},
    )
    session.add(payment)
    await session.flush()
    await record_by(
        session,
        ctx,
        "payment.recorded",
        "payment",
        payment.id,
        None,
        {
            "method": payment.method.value,
            "amount": str(amount),
            "invoiceId": str(data.invoice_id) if data.invoice_id else None,
        },
        trace_id=trace_id,
    )
    await recompute_invoice(session, ctx.org_id, payment.invoice_id, ctx.user_id)
    return await payment_wire(session, payment)


# -- state changes --------------------------------------------------------------------------------------


async def move_payment(
    session: AsyncSession,
    payment: Payment,
    target: PaymentStatus,
    *,
    actor_id: uuid.UUID | None,
    source: str,
    extra: dict[str, Any] | None = None,
) -> int:
    """Move along the machine to ``target`` (each step one audit entry); the number of moves made."""
    current = PaymentStatus(payment.status)
    route = path_to(current, target)
    if not route:
        return 0
    for step in route:
        before = PaymentStatus(payment.status)
        payment.status = step
        if step is PaymentStatus.APPROVED and payment.paid_at is None:
            payment.paid_at = utcnow()
        await session.flush()
        await record(
            session,
            org_id=payment.org_id,
            actor_id=actor_id,
            action=f"payment.{step.value}",
            entity_type="payment",
            entity_id=payment.id,
            before={"status": before.value},
            after={"status": step.value, "source": source, **(extra or {})},
        )
    return len(route)


# -- refunds ------------------------------------------------------------------------------------------

_REFUND_ERRORS = {
    RefundProblem.NOT_REFUNDABLE: ErrorCode.REFUND_NOT_ALLOWED,
    RefundProblem.NOT_POSITIVE: ErrorCode.PAYMENT_AMOUNT_INVALID,
    RefundProblem.EXCEEDS_REFUNDABLE: ErrorCode.REFUND_EXCEEDS_PAID,
}


def check_refund_or_raise(payment: Payment, requested: Decimal | None) -> Decimal:
    if requested is not None:
        requested = _amount(requested)
    amount, problem = check_refund(payment.status, payment.amount, payment.refunded_amount, requested)
    if problem is not None:
        raise AppError(
            _REFUND_ERRORS[problem],
            details={
                "status": str(payment.status),
                "refundable": str(refundable(payment.amount, payment.refunded_amount)),
                "requested": str(amount),
            },
        )
    return amount


async def apply_refund(
    session: AsyncSession,
    payment: Payment,
    refund: Refund,
    *,
    actor_id: uuid.UUID | None,
    source: str,
) -> int:
    """An approved refund: the payment's refunded amount grows and its status follows; the invoice too."""
    payment.refunded_amount = to_money(payment.refunded_amount + refund.amount)
    target = status_after_refund(payment.amount, payment.refunded_amount)
    changes = await move_payment(
        session, payment, target, actor_id=actor_id, source=source, extra={"refunded": str(payment.refunded_amount)}
    )
    if target is PaymentStatus.PARTIALLY_REFUNDED and changes == 0:
        # another partial refund: a self-move of the machine, still one recorded change
        changes = await _record_partial_refund(session, payment, actor_id=actor_id, source=source)
    await session.flush()
    await recompute_invoice(session, payment.org_id, payment.invoice_id, actor_id)
    return changes


async def _record_partial_refund(
    session: AsyncSession, payment: Payment, *, actor_id: uuid.UUID | None, source: str
) -> int:
    """One more partial refund of a payment already partially refunded: one audit entry, one change."""
    await record(
        session,
        org_id=payment.org_id,
        actor_id=actor_id,
        action="payment.partially_refunded",
        entity_type="payment",
        entity_id=payment.id,
        before={"status": payment.status.value},
        after={"status": payment.status.value, "refunded": str(payment.refunded_amount), "source": source},
    )
    return 1


async def _new_refund(
    session: AsyncSession,
    ctx: RequestContext,
    payment: Payment,
    amount: Decimal,
    status: RefundStatus,
    reason: str | None,
) -> Refund:
    refund = Refund(
        id=new_id(),
        org_id=payment.org_id,
        payment_id=payment.id,
        amount=amount,
        status=status,
        reason=reason,
        created_by_id=ctx.user_id,
    )
    session.add(refund)
    await session.flush()
    return refund


async def record_manual_refund(
    session: AsyncSession, ctx: RequestContext, payment: Payment, data: wire.RefundCreate
) -> wire.Payment:
    amount = check_refund_or_raise(payment, data.amount)
    refund = await _new_refund(session, ctx, payment, amount, RefundStatus.APPROVED, data.reason)
    await apply_refund(session, payment, refund, actor_id=ctx.user_id, source="manual")
    return await payment_wire(session, payment)


# -- disputes ---------------------------------------------------------------------------------------------


def dispute_wire(d: Dispute) -> wire.Dispute:
    return wire.Dispute(
        id=d.id,
        payment_id=d.payment_id,
        external_id=d.external_id,
        status=DisputeStatus(d.status),
        amount=d.amount,
        documentation_deadline=d.documentation_deadline,
        evidence_notes=d.evidence_notes,
        provider_status=d.provider_status,
        resolved_at=d.resolved_at,
        created_at=d.created_at,
    )


async def list_disputes(session: AsyncSession, payment_id: uuid.UUID | None = None) -> list[wire.Dispute]:
    statement = select(Dispute).order_by(Dispute.created_at.desc())
    if payment_id is not None:
        statement = statement.where(Dispute.payment_id == payment_id)
    return [dispute_wire(d) for d in await session.scalars(statement)]


async def open_dispute(
    session: AsyncSession, ctx: RequestContext, payment_id: uuid.UUID, data: wire.DisputeCreate
) -> wire.Dispute:
    """A claim recorded by hand: the payment goes to mediation (its money is in question)."""
    payment = await get_payment(session, payment_id, lock=True)
    if not PAYMENT_MACHINE.can(PaymentStatus(payment.status), PaymentStatus.IN_MEDIATION):
        raise AppError(ErrorCode.DISPUTE_TRANSITION_NOT_ALLOWED, details={"paymentStatus": str(payment.status)})
    amount = _amount(data.amount) if data.amount is not None else refundable(payment.amount, payment.refunded_amount)
    dispute = Dispute(
        id=new_id(),
        org_id=payment.org_id,
        payment_id=payment.id,
        status=DisputeStatus.OPEN,
        amount=amount,
        documentation_deadline=data.documentation_deadline,
        evidence_notes=data.evidence_notes,
    )
    session.add(dispute)
    await session.flush()
    await move_payment(session, payment, PaymentStatus.IN_MEDIATION, actor_id=ctx.user_id, source="manual")
    await recompute_invoice(session, payment.org_id, payment.invoice_id, ctx.user_id)
    return dispute_wire(dispute)


async def _settle_dispute_payment(
    session: AsyncSession, dispute: Dispute, actor_id: uuid.UUID | None, source: str
) -> None:
    payment = await get_payment(session, dispute.payment_id, lock=True)
    if dispute.status is DisputeStatus.WON:
        await move_payment(session, payment, PaymentStatus.WON, actor_id=actor_id, source=source)
    elif dispute.status is DisputeStatus.LOST:
        await move_payment(session, payment, PaymentStatus.CHARGED_BACK, actor_id=actor_id, source=source)
    await recompute_invoice(session, payment.org_id, payment.invoice_id, actor_id)


async def update_dispute(
    session: AsyncSession, ctx: RequestContext, dispute_id: uuid.UUID, data: wire.DisputeUpdate
) -> wire.Dispute:
    dispute = await session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update())
    if dispute is None:
        raise AppError(ErrorCode.DISPUTE_NOT_FOUND)
    before = {"status": dispute.status.value}
    if data.evidence_notes is not None:
        dispute.evidence_notes = data.evidence_notes
    if data.status is not None and data.status is not dispute.status:
        if not DISPUTE_MACHINE.can(DisputeStatus(dispute.status), data.status):
            raise AppError(
                ErrorCode.DISPUTE_TRANSITION_NOT_ALLOWED,
                details={
                    "status": dispute.status.value,
                    "allowed": sorted(s.value for s in DISPUTE_MACHINE.allowed(DisputeStatus(dispute.status))),
                },
            )
        dispute.status = data.status
        if data.status in (DisputeStatus.WON, DisputeStatus.LOST):
            dispute.resolved_at = utcnow()
    await session.flush()
    await record_by(session, ctx, "dispute.updated", "dispute", dispute.id, before, {"status": dispute.status.value})
    if dispute.status in (DisputeStatus.WON, DisputeStatus.LOST):
        await _settle_dispute_payment(session, dispute, ctx.user_id, "manual")
    return dispute_wire(dispute)


async def apply_chargeback(session: AsyncSession, org_id: uuid.UUID, chargeback: MpChargeback) -> tuple[int, str]:
    """Record or update the dispute of a Mercado Pago chargeback (the payment itself follows its own fetch)."""
    payment = await session.scalar(
        select(Payment).where(Payment.external_id == str(chargeback.payment_id)).with_for_update()
    )
    if payment is None:
        await note_discrepancy(
            session,
            org_id,
            DiscrepancyKind.MISSING_LOCALLY,
            str(chargeback.payment_id),
            None,
            {"chargebackId": chargeback.id, "status": chargeback.status},
        )
        return 0, "unknown_payment"
    status = dispute_status_from_mp(chargeback.status, str(chargeback.raw.get("coverage_applied") or ""))
    dispute = await session.scalar(select(Dispute).where(Dispute.external_id == chargeback.id).with_for_update())
    changes = 0
    if dispute is None:
        dispute = Dispute(
            id=new_id(),
            org_id=org_id,
            payment_id=payment.id,
            external_id=chargeback.id,
            status=DisputeStatus.OPEN,
            amount=to_money(chargeback.amount or payment.amount),
            documentation_deadline=chargeback.date_documentation_deadline,
            provider_status=chargeback.status,
        )
        session.add(dispute)
        await session.flush()
        changes += await move_payment(session, payment, PaymentStatus.IN_MEDIATION, actor_id=None, source="chargeback")
        changes += 1
    dispute.provider_status = chargeback.status
    dispute.documentation_deadline = chargeback.date_documentation_deadline or dispute.documentation_deadline
    if status is not dispute.status and DISPUTE_MACHINE.can(DisputeStatus(dispute.status), status):
        dispute.status = status
        if status in (DisputeStatus.WON, DisputeStatus.LOST):
            dispute.resolved_at = utcnow()
        changes += 1
        await session.flush()
        await _settle_dispute_payment(session, dispute, None, "chargeback")
    await session.flush()
    await recompute_invoice(session, org_id, payment.invoice_id, None)
    return changes, "applied" if changes else "unchanged"


# -- discrepancies ------------------------------------------------------------------------------------------


async def note_discrepancy(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: DiscrepancyKind,
    external_id: str,
    payment_id: uuid.UUID | None,
    details: dict[str, Any],
    *,
    auto_fixed: bool = False,
) -> bool:
    """One open row per (kind, MP payment id); True when it is new."""
    now = utcnow()
    statement = (
        insert(ReconciliationDiscrepancy)
        .values(
            id=new_id(),
            org_id=org_id,
            kind=kind,
            payment_id=payment_id,
            external_id=external_id,
            details=details,
            auto_fixed=auto_fixed,
            resolved_at=now if auto_fixed else None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["org_id", "kind", "external_id"],
            index_where=ReconciliationDiscrepancy.resolved_at.is_(None),
        )
        .returning(ReconciliationDiscrepancy.id)
    )
    inserted = await session.scalar(statement)
    if inserted is not None:
        log.info("payment discrepancy", kind=kind.value, org_id=str(org_id), auto_fixed=auto_fixed)
    return inserted is not None


def discrepancy_wire(d: ReconciliationDiscrepancy) -> wire.Discrepancy:
    return wire.Discrepancy(
        id=d.id,
        kind=wire.DiscrepancyKind(d.kind.value),
        payment_id=d.payment_id,
        external_id=d.external_id,
        details=d.details or {},
        auto_fixed=d.auto_fixed,
        resolved_at=d.resolved_at,
        resolution_note=d.resolution_note,
        created_at=d.created_at,
    )


async def list_discrepancies(
    session: AsyncSession, *, open_only: bool, kind: DiscrepancyKind | None, limit: int, offset: int
) -> wire.DiscrepancyPage:
    statement = select(ReconciliationDiscrepancy)
    if open_only:
        statement = statement.where(ReconciliationDiscrepancy.resolved_at.is_(None))
    if kind is not None:
        statement = statement.where(ReconciliationDiscrepancy.kind == kind)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(
        statement.order_by(ReconciliationDiscrepancy.created_at.desc(), ReconciliationDiscrepancy.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return wire.DiscrepancyPage(items=[discrepancy_wire(d) for d in rows], total=int(total), limit=limit, offset=offset)


async def resolve_discrepancy(
    session: AsyncSession, ctx: RequestContext, discrepancy_id: uuid.UUID, note: str
) -> wire.Discrepancy:
    row = await session.scalar(
        select(ReconciliationDiscrepancy).where(ReconciliationDiscrepancy.id == discrepancy_id).with_for_update()
    )
    if row is None:
        raise AppError(ErrorCode.DISCREPANCY_NOT_FOUND)
    if row.resolved_at is None:
        row.resolved_at = utcnow()
        row.resolved_by_id = ctx.user_id
        row.resolution_note = note
        await session.flush()
        await record_by(
            session, ctx, "payment_discrepancy.resolved", "payment_discrepancy", row.id, None, {"note": note}
        )
    return discrepancy_wire(row)


# -- applying Mercado Pago's view of a payment ------------------------------------------------------------


@dataclass
class Applied:
    outcome: str  # applied | unchanged | unknown_payment | stale | unknown_status
    changes: int = 0
    payment_id: uuid.UUID | None = None
    discrepancies: list[str] = field(default_factory=list)


def _reference_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


async def _payment_for(session: AsyncSession, org_id: uuid.UUID, mp: MpPayment) -> Payment | None:
    """Our row for MP's payment: by its id, else the link's row (external_reference) if still unbound,
    else a new row for another attempt at the same link."""
    payment = await session.scalar(select(Payment).where(Payment.external_id == str(mp.id)).with_for_update())
    if payment is not None:
        return payment
    reference = _reference_id(mp.external_reference)
    if reference is None:
        return None
    intent = await session.scalar(select(Payment).where(Payment.id == reference).with_for_update())
    if intent is None or intent.method is not PaymentMethod.MERCADOPAGO:
        return None
    if intent.external_id is None:
        intent.external_id = str(mp.id)
        await session.flush()
        return intent
    attempt = Payment(
        id=new_id(),
        org_id=org_id,
        invoice_id=intent.invoice_id,
        status=PaymentStatus.PENDING,
        method=PaymentMethod.MERCADOPAGO,
        amount=to_money(mp.transaction_amount),
        refunded_amount=Decimal("0"),
        currency=mp.currency_id or "ARS",
        installments=max(mp.installments, 1),
        external_id=str(mp.id),
        provider_data={"externalReference": str(reference)},
    )
    session.add(attempt)
    await session.flush()
    return attempt


def _refund_status(value: str | None) -> RefundStatus:
    text = (value or "approved").lower()
    if text == "approved":
        return RefundStatus.APPROVED
    return RefundStatus.REJECTED if text in ("rejected", "cancelled") else RefundStatus.PENDING


async def _sync_refunds(session: AsyncSession, payment: Payment, mp: MpPayment) -> None:
    known = {r.external_id: r for r in await session.scalars(select(Refund).where(Refund.payment_id == payment.id))}
    for r in mp.refunds:
        if str(r.id) in known:
            known[str(r.id)].status = _refund_status(r.status)
            continue
        session.add(
            Refund(
                id=new_id(),
                org_id=payment.org_id,
                payment_id=payment.id,
                amount=to_money(r.amount),
                status=_refund_status(r.status),
                external_id=str(r.id),
                reason="Mercado Pago",
            )
        )
    await session.flush()


async def apply_mp_payment(
    session: AsyncSession, org_id: uuid.UUID, mp: MpPayment, *, source: str, allow_bind: bool = True
) -> Applied:
    """Bring our payment to what Mercado Pago says now; each real change happens once, however often asked."""
    payment = await _payment_for(session, org_id, mp) if allow_bind else None
    if payment is None:
        await note_discrepancy(
            session,
            org_id,
            DiscrepancyKind.MISSING_LOCALLY,
            str(mp.id),
            None,
            {
                "status": mp.status,
                "amount": str(mp.transaction_amount),
                "externalReference": None if mp.external_reference is None else str(mp.external_reference),
                "source": source,
            },
        )
        return Applied("unknown_payment", discrepancies=[DiscrepancyKind.MISSING_LOCALLY.value])
    result = Applied("unchanged", payment_id=payment.id)
    try:
        reported = mp_status_to_ours(mp.status, mp.status_detail)
    except UnknownMercadoPagoStatus:
        log.warning("mercadopago sent an unknown payment status", status=str(mp.status)[:40])
        return Applied("unknown_status", payment_id=payment.id)
    current = PaymentStatus(payment.status)
    target = resolve_target(current, reported)
    mp_amount = to_money(mp.transaction_amount)
    if mp_amount != to_money(payment.amount):
        # the buyer paid a different amount than the link asked for: record it, count what was paid
        paid_other = current is PaymentStatus.PENDING and payment.external_id == str(mp.id)
        if paid_other or source == "reconciliation":
            await note_discrepancy(
                session,
                org_id,
                DiscrepancyKind.AMOUNT_DIFFERS,
                str(mp.id),
                payment.id,
                {"ours": str(payment.amount), "mercadopago": str(mp_amount), "source": source},
            )
            result.discrepancies.append(DiscrepancyKind.AMOUNT_DIFFERS.value)
        if paid_other:
            payment.amount = mp_amount
    route = path_to(current, target)
    if route is None:
        await note_discrepancy(
            session,
            org_id,
            DiscrepancyKind.STATUS_DIFFERS,
            str(mp.id),
            payment.id,
            {"ours": current.value, "mercadopago": mp.status, "detail": mp.status_detail, "source": source},
        )
        result.discrepancies.append(DiscrepancyKind.STATUS_DIFFERS.value)
        result.outcome = "stale"
        return result
    payment.status_detail = (mp.status_detail or "")[:80] or None
    payment.installments = max(mp.installments, 1)
    payment.provider_updated_at = mp.date_last_updated or payment.provider_updated_at
    payment.provider_data = {
        "paymentMethodId": mp.payment_method_id,
        "paymentTypeId": mp.payment_type_id,
        "status": mp.status,
        "statusDetail": mp.status_detail,
    }
    if mp.date_approved is not None and payment.paid_at is None:
        payment.paid_at = mp.date_approved
    await _sync_refunds(session, payment, mp)
    refunded = to_money(mp.transaction_amount_refunded or Decimal("0"))
    refunded_changed = refunded != to_money(payment.refunded_amount)
    if refunded_changed:
        payment.refunded_amount = refunded
    if route:
        if source == "reconciliation":
            await note_discrepancy(
                session,
                org_id,
                DiscrepancyKind.STATUS_DIFFERS,
                str(mp.id),
                payment.id,
                {"ours": current.value, "mercadopago": target.value, "source": source},
                auto_fixed=True,
            )
            result.discrepancies.append(DiscrepancyKind.STATUS_DIFFERS.value)
        result.changes = await move_payment(
            session, payment, target, actor_id=None, source=source, extra={"mpPaymentId": str(mp.id)}
        )
    elif refunded_changed and target is PaymentStatus.PARTIALLY_REFUNDED:
        result.changes = await _record_partial_refund(session, payment, actor_id=None, source=source)
    await session.flush()
    if result.changes or refunded_changed or result.discrepancies:
        result.outcome = "applied" if result.changes else result.outcome
        await recompute_invoice(session, org_id, payment.invoice_id, None)
        if payment.status is PaymentStatus.APPROVED and payment.invoice_id is not None:
            await _close_links(session, payment)
    return result


async def _close_links(session: AsyncSession, payment: Payment) -> None:
    reference = _reference_id((payment.provider_data or {}).get("externalReference")) or payment.id
    links = await session.scalars(
        select(PaymentLink).where(PaymentLink.payment_id == reference, PaymentLink.status == PaymentLinkStatus.ACTIVE)
    )
    for link in links:
        link.status = PaymentLinkStatus.PAID
    await session.flush()


async def refund_payment(
    session: AsyncSession, resources: Any, ctx: RequestContext, payment_id: uuid.UUID, data: wire.RefundCreate
) -> wire.Payment:
    """Refund all or part of a payment: through Mercado Pago for its payments, recorded for manual ones."""
    from server.domain.payments.connection import calling_mercadopago, require_enabled

    payment = await get_payment(session, payment_id, lock=True)
    if payment.method is not PaymentMethod.MERCADOPAGO:
        return await record_manual_refund(session, ctx, payment, data)
    amount = check_refund_or_raise(payment, data.amount)
    if payment.external_id is None:
        raise AppError(ErrorCode.REFUND_NOT_ALLOWED, details={"status": str(payment.status)})
    assert ctx.org_id is not None
    await require_enabled(resources, ctx.org_id)
    refund = await _new_refund(session, ctx, payment, amount, RefundStatus.PENDING, data.reason)
    whole = amount == refundable(payment.amount, payment.refunded_amount) and payment.refunded_amount == 0
    async with calling_mercadopago(resources, ctx.org_id, refused="mercadopago refused the refund") as client:
        answer = await client.refund(payment.external_id, None if whole else amount, idempotency_key=str(refund.id))
    refund.external_id = str(answer.id)
    refund.status = _refund_status(answer.status)
    if answer.amount and to_money(answer.amount) != amount:
        log.warning("mercadopago refunded another amount than asked", asked=str(amount), refunded=str(answer.amount))
        refund.amount = to_money(answer.amount)
    await session.flush()
    await record_by(
        session,
        ctx,
        "payment.refund_requested",
        "payment",
        payment.id,
        None,
        {"amount": str(refund.amount), "refundId": refund.external_id, "status": refund.status.value},
    )
    if refund.status is RefundStatus.APPROVED:
        await apply_refund(session, payment, refund, actor_id=ctx.user_id, source="mercadopago")
    return await payment_wire(session, payment)
