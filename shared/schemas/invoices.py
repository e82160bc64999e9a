"""Wire contracts of invoices: drafts, lines, CAE requests, notes, the AFIP queue's state."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from shared.schemas.base import CamelStruct, OffsetPage
from shared.states.invoice import InvoiceStatus

Description = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class InvoiceKind(StrEnum):
    """What the receipt is: an invoice, or a note that corrects one (linked through ``CbtesAsoc``)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    DEBIT_NOTE = "debit_note"


class InvoiceLineInput(CamelStruct):
    """A line: from the price book (description/price/IVA default to the item's) or free text.

    ``unit_price`` is net of IVA; ``discount`` an amount off the line (not a percentage).
    """

    pricebook_item_id: uuid.UUID | None = None
    description: Description | None = None
    quantity: Decimal = Decimal("1")
    unit_price: Decimal | None = None
    discount: Decimal = Decimal("0")
    iva_rate: Decimal | None = None


Lines = Annotated[list[InvoiceLineInput], msgspec.Meta(min_length=1, max_length=200)]


class InvoiceCreate(CamelStruct):
    """A draft by hand. A credit/debit note names the invoice it corrects (``associatedInvoiceId``)."""

    customer_id: uuid.UUID
    lines: Lines
    kind: InvoiceKind = InvoiceKind.INVOICE
    job_id: uuid.UUID | None = None
    associated_invoice_id: uuid.UUID | None = None
    point_of_sale: Annotated[int, msgspec.Meta(ge=1, le=99998)] | None = None
    service_from: datetime.date | None = None
    service_to: datetime.date | None = None
    payment_due: datetime.date | None = None


class InvoiceUpdate(CamelStruct):
    """Edit a draft (only a draft); ``lines`` replaces them all."""

    lines: Lines | msgspec.UnsetType = msgspec.UNSET
    point_of_sale: Annotated[int, msgspec.Meta(ge=1, le=99998)] | msgspec.UnsetType = msgspec.UNSET
    service_from: datetime.date | msgspec.UnsetType | None = msgspec.UNSET
    service_to: datetime.date | msgspec.UnsetType | None = msgspec.UNSET
    payment_due: datetime.date | msgspec.UnsetType | None = msgspec.UNSET


class InvoiceLine(CamelStruct):
    id: uuid.UUID
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    iva_rate: Decimal
    net_amount: Decimal
    iva_amount: Decimal
    total_amount: Decimal
    pricebook_item_id: uuid.UUID | None = None


class AfipMessage(CamelStruct):
    """An AFIP observation or error (``Obs`` / ``Err``) as AFIP sent it."""

    code: int
    message: str
    kind: str = "error"  # error | observation


class VatLine(CamelStruct):
    """One IVA rate's base and amount (AFIP's ``AlicIva``)."""

    rate: Decimal
    base: Decimal
    amount: Decimal


class Invoice(CamelStruct):
    id: uuid.UUID
    status: InvoiceStatus
    kind: InvoiceKind
    customer_id: uuid.UUID
    customer_name: str
    lines: list[InvoiceLine]
    net_amount: Decimal
    iva_amount: Decimal
    total_amount: Decimal
    paid_amount: Decimal
    balance: Decimal
    vat: list[VatLine] = msgspec.field(default_factory=list)
    letter: str | None = None
    receipt_type: int | None = None
    point_of_sale: int | None = None
    number: int | None = None
    display_number: str | None = None  # "0001-00000123"
    issue_date: datetime.date | None = None
    concept: int | None = None
    service_from: datetime.date | None = None
    service_to: datetime.date | None = None
    payment_due: datetime.date | None = None
    doc_type: int | None = None
    doc_number: str | None = None
    receiver_iva_condition_id: int | None = None
    cae: str | None = None
    cae_due_date: datetime.date | None = None
    afip_messages: list[AfipMessage] = msgspec.field(default_factory=list)
    job_id: uuid.UUID | None = None
    associated_invoice_id: uuid.UUID | None = None
    issued_at: datetime.datetime | None = None
    created_at: datetime.datetime | None = None
    pdf_url: str | None = None


class InvoiceSummary(CamelStruct):
    id: uuid.UUID
    status: InvoiceStatus
    kind: InvoiceKind
    customer_id: uuid.UUID
    customer_name: str
    total_amount: Decimal
    paid_amount: Decimal
    letter: str | None = None
    display_number: str | None = None
    issue_date: datetime.date | None = None
    cae: str | None = None
    job_id: uuid.UUID | None = None
    created_at: datetime.datetime | None = None


InvoicePage = OffsetPage[InvoiceSummary]


class AfipQueueStatus(CamelStruct):
    """What the office sees about electronic invoicing right now."""

    afip_enabled: bool
    reason: str | None
    pending: int  # waiting for a CAE
    oldest_pending_since: datetime.datetime | None
    rejected_drafts: int  # drafts AFIP sent back with reasons
    failed: int  # gave up after retries: need a person (dead letters)
    message: str  # es-AR sentence for the banner
