"""Wire contracts of payments: manual payments, refunds, disputes, Mercado Pago connection, payment links,
installments with CFT/TEA, reconciliation discrepancies."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from shared.payments.rules import DisputeStatus
from shared.schemas.base import CamelStruct, OffsetPage
from shared.states.payment import PaymentMethod, PaymentStatus

Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Notes = Annotated[str, msgspec.Meta(max_length=2000)]


class ManualMethod(StrEnum):
    CASH = "cash"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"


class ManualPaymentCreate(CamelStruct):
    """A payment taken by hand. A transfer or a cheque needs its reference (operation or cheque number)."""

    method: ManualMethod
    amount: Decimal
    invoice_id: uuid.UUID | None = None
    reference: Reference | None = None
    notes: Notes | None = None
    paid_at: datetime.datetime | None = None


class RefundCreate(CamelStruct):
    """``amount`` empty = everything still refundable."""

    amount: Decimal | None = None
    reason: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class Refund(CamelStruct):
    id: uuid.UUID
    payment_id: uuid.UUID
    amount: Decimal
    status: str
    external_id: str | None
    reason: str | None
    created_at: datetime.datetime


class Payment(CamelStruct):
    id: uuid.UUID
    invoice_id: uuid.UUID | None
    status: PaymentStatus
    status_detail: str | None
    method: PaymentMethod
    amount: Decimal
    refunded_amount: Decimal
    refundable_amount: Decimal
    currency: str
    installments: int
    external_id: str | None
    reference: str | None
    notes: str | None
    paid_at: datetime.datetime | None
    recorded_by_id: uuid.UUID | None
    created_at: datetime.datetime
    refunds: list[Refund] = msgspec.field(default_factory=list)


PaymentPage = OffsetPage[Payment]


class Dispute(CamelStruct):
    id: uuid.UUID
    payment_id: uuid.UUID
    external_id: str | None
    status: DisputeStatus
    amount: Decimal
    documentation_deadline: datetime.datetime | None
    evidence_notes: str | None
    provider_status: str | None
    resolved_at: datetime.datetime | None
    created_at: datetime.datetime


class DisputeCreate(CamelStruct):
    """A dispute recorded by hand (e.g. a bank's claim on a transfer): amount defaults to the payment's."""

    amount: Decimal | None = None
    documentation_deadline: datetime.datetime | None = None
    evidence_notes: Notes | None = None


class DisputeUpdate(CamelStruct):
    status: DisputeStatus | None = None
    evidence_notes: Notes | None = None


class MercadoPagoConnection(CamelStruct):
    connected: bool
    status: str | None = None
    mp_user_id: str | None = None
    public_key: str | None = None
    expires_at: datetime.datetime | None = None
    connected_at: datetime.datetime | None = None


class AuthorizationUrl(CamelStruct):
    authorization_url: str
    expires_in_seconds: int


class PaymentLink(CamelStruct):
    id: uuid.UUID
    invoice_id: uuid.UUID
    payment_id: uuid.UUID
    preference_id: str
    init_point: str
    sandbox_init_point: str | None
    amount: Decimal
    max_installments: int | None
    expires_at: datetime.datetime | None
    status: str
    created_at: datetime.datetime


class InstallmentOption(CamelStruct):
    payment_method_id: str
    issuer_id: str | None
    issuer_name: str | None
    installments: int
    installment_rate: Decimal
    installment_amount: Decimal
    total_amount: Decimal
    cft: Decimal | None
    tea: Decimal | None
    figures_source: str  # "mercadopago" (MP's labels) | "calculated" (our model)
    recommended_message: str | None = None


class Installments(CamelStruct):
    amount: Decimal
    options: list[InstallmentOption]


class DiscrepancyKind(StrEnum):
    MISSING_LOCALLY = "missing_locally"
    STATUS_DIFFERS = "status_differs"
    AMOUNT_DIFFERS = "amount_differs"


class Discrepancy(CamelStruct):
    id: uuid.UUID
    kind: DiscrepancyKind
    payment_id: uuid.UUID | None
    external_id: str
    details: dict[str, Any]
    auto_fixed: bool
    resolved_at: datetime.datetime | None
    resolution_note: str | None
    created_at: datetime.datetime


DiscrepancyPage = OffsetPage[Discrepancy]


class DiscrepancyResolve(CamelStruct):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class ReconciliationReport(CamelStruct):
    checked: int
    missing_locally: int
    status_differs: int
    amount_differs: int
    auto_fixed: int
