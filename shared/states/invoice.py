"""Invoice status flow: draft → pending_cae → issued → sent → paid; rejected back to draft; voided."""

from __future__ import annotations

from enum import StrEnum

from shared.states.machine import StateMachine


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    PENDING_CAE = "pending_cae"
    ISSUED = "issued"
    SENT = "sent"
    PAID = "paid"
    REJECTED = "rejected"
    VOIDED = "voided"


INVOICE_MACHINE: StateMachine[InvoiceStatus] = StateMachine(
    "invoice",
    {
        InvoiceStatus.DRAFT: frozenset({InvoiceStatus.PENDING_CAE}),
        InvoiceStatus.PENDING_CAE: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.REJECTED}),
        InvoiceStatus.REJECTED: frozenset({InvoiceStatus.DRAFT}),
        InvoiceStatus.ISSUED: frozenset({InvoiceStatus.SENT, InvoiceStatus.PAID, InvoiceStatus.VOIDED}),
        InvoiceStatus.SENT: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOIDED}),
        InvoiceStatus.PAID: frozenset({InvoiceStatus.VOIDED}),
        InvoiceStatus.VOIDED: frozenset(),
    },
)
