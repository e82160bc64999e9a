"""Payments and what hangs off them: refunds, disputes (chargebacks, mediations), payment links, and the
discrepancies reconciliation with Mercado Pago found.

A Mercado Pago payment row is made when a link is created (``pending``, ``external_id`` empty, its id is
the preference's ``external_reference``); the first MP payment of that link binds to it (``external_id``);
a later attempt of the same link (after a rejected card, say) gets a row of its own. ``external_id`` is
unique within an organisation, so the same MP payment is never recorded twice.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, Money, OrgOwned, Timestamp, pg_enum, tenant_fk, tenant_key
from shared.payments.rules import DisputeStatus
from shared.states import PaymentMethod, PaymentStatus


class Payment(OrgOwned, Base):
    __tablename__ = "payments"
    __table_args__ = (
        tenant_key(),
        tenant_fk("invoice_id", "invoices", ondelete="RESTRICT"),
        tenant_fk("recorded_by_id", "users", ondelete="SET NULL"),
        Index("ix_payments_invoice", "org_id", "invoice_id"),
        Index(
            "uq_payments_external",
            "org_id",
            "external_id",
            unique=True,
            postgresql_where="external_id IS NOT NULL",
        ),
        Index("ix_payments_org_status", "org_id", "status", "created_at"),
    )

    invoice_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[PaymentStatus] = mapped_column(
        pg_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    method: Mapped[PaymentMethod] = mapped_column(pg_enum(PaymentMethod, "payment_method"))
    amount: Mapped[Decimal] = mapped_column(Money)
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="ARS")
    installments: Mapped[int] = mapped_column(Integer, default=1)
    external_id: Mapped[str | None] = mapped_column(String(64))  # Mercado Pago payment id
    reference: Mapped[str | None] = mapped_column(String(120))  # transfer / cheque reference
    notes: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column()
    provider_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Mercado Pago's own view: status_detail, and its date_last_updated (what we last applied)
    status_detail: Mapped[str | None] = mapped_column(String(80))
    provider_updated_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)


class RefundStatus(StrEnum):
    PENDING = "pending"  # asked of Mercado Pago, not settled yet (in_process)
    APPROVED = "approved"
    REJECTED = "rejected"


class Refund(OrgOwned, Base):
    """Money given back: through Mercado Pago (``external_id`` = MP's refund id) or recorded by hand."""

    __tablename__ = "payment_refunds"
    __table_args__ = (
        tenant_fk("payment_id", "payments", ondelete="CASCADE"),
        tenant_fk("created_by_id", "users", ondelete="SET NULL"),
        Index("ix_payment_refunds_payment", "org_id", "payment_id"),
        Index(
            "uq_payment_refunds_external",
            "org_id",
            "external_id",
            unique=True,
            postgresql_where="external_id IS NOT NULL",
        ),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[RefundStatus] = mapped_column(pg_enum(RefundStatus, "refund_status"), default=RefundStatus.PENDING)
    external_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column()


class Dispute(OrgOwned, Base):
    """A chargeback or mediation on a payment: its state, the deadline for documentation, our notes."""

    __tablename__ = "payment_disputes"
    __table_args__ = (
        tenant_fk("payment_id", "payments", ondelete="CASCADE"),
        Index("ix_payment_disputes_payment", "org_id", "payment_id"),
        Index(
            "uq_payment_disputes_external",
            "org_id",
            "external_id",
            unique=True,
            postgresql_where="external_id IS NOT NULL",
        ),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column()
    external_id: Mapped[str | None] = mapped_column(String(64))  # Mercado Pago chargeback id
    status: Mapped[DisputeStatus] = mapped_column(pg_enum(DisputeStatus, "dispute_status"), default=DisputeStatus.OPEN)
    amount: Mapped[Decimal] = mapped_column(Money)
    documentation_deadline: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    evidence_notes: Mapped[str | None] = mapped_column(Text)
    provider_status: Mapped[str | None] = mapped_column(String(60))
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)


class PaymentLinkStatus(StrEnum):
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"
    REPLACED = "replaced"


class PaymentLink(OrgOwned, Base):
    """A Checkout Pro preference for an invoice (its ``external_reference`` is ``payment_id``)."""

    __tablename__ = "payment_links"
    __table_args__ = (
        tenant_fk("invoice_id", "invoices", ondelete="RESTRICT"),
        tenant_fk("payment_id", "payments", ondelete="CASCADE"),
        tenant_fk("created_by_id", "users", ondelete="SET NULL"),
        Index("ix_payment_links_invoice", "org_id", "invoice_id", "created_at"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column()
    payment_id: Mapped[uuid.UUID] = mapped_column()
    preference_id: Mapped[str] = mapped_column(String(120))
    init_point: Mapped[str] = mapped_column(String(500))
    sandbox_init_point: Mapped[str | None] = mapped_column(String(500))
    amount: Mapped[Decimal] = mapped_column(Money)
    max_installments: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    status: Mapped[PaymentLinkStatus] = mapped_column(
        pg_enum(PaymentLinkStatus, "payment_link_status"), default=PaymentLinkStatus.ACTIVE
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column()


class DiscrepancyKind(StrEnum):
    MISSING_LOCALLY = "missing_locally"  # Mercado Pago has a payment we have no row for
    STATUS_DIFFERS = "status_differs"
    AMOUNT_DIFFERS = "amount_differs"


class ReconciliationDiscrepancy(OrgOwned, Base):
    """What reconciliation (or a webhook) found different between Mercado Pago and us.

    One open row per (kind, MP payment id); ``auto_fixed`` when the fix was safe and applied at once (our
    status behind MP's along the state machine), otherwise it waits for a person (``resolved_at``).
    """

    __tablename__ = "payment_discrepancies"
    __table_args__ = (
        tenant_fk("payment_id", "payments", ondelete="SET NULL"),
        tenant_fk("resolved_by_id", "users", ondelete="SET NULL"),
        Index(
            "uq_payment_discrepancies_open",
            "org_id",
            "kind",
            "external_id",
            unique=True,
            postgresql_where="resolved_at IS NULL",
        ),
        Index("ix_payment_discrepancies_org_created", "org_id", "created_at"),
    )

    kind: Mapped[DiscrepancyKind] = mapped_column(pg_enum(DiscrepancyKind, "payment_discrepancy_kind"))
    payment_id: Mapped[uuid.UUID | None] = mapped_column()
    external_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    auto_fixed: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column()
    resolution_note: Mapped[str | None] = mapped_column(String(500))
