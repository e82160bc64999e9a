"""Invoice status flow: draft → pending_cae → issued → sent → paid; rejected back to draft; voided.

- ``request_cae``: a draft with its fiscal fields fixed is queued for AFIP (pending_cae). A pending
  invoice cannot be pulled back: AFIP may already have given it a CAE (a timeout is resolved by the
  worker with FECompConsultar), so only AFIP's answer moves it on.
- ``authorize``: AFIP answered ``A`` with a CAE (issued). From here on the fiscal fields are immutable.
- ``reject``: AFIP answered ``R`` or a permanent error: the invoice goes straight back to draft for a
  person to fix, with AFIP's reasons (and ``rejected_at``) stored on it — what issue #5 asks ("a rejected
  invoice goes back to draft with the reasons") and what the issuing worker does. Nothing was numbered, so
  nothing is voided. "Rejected" is shown from those stored reasons, not from a status.
- ``rejected`` stays in the enum only because the database enum ``invoice_status`` (and any row stored by
  earlier code) has it: no move leads into it, and ``reopen`` takes such a row back to draft.
- ``send`` (issued → sent), ``pay`` (issued or sent → paid in full), ``reverse_payment`` (paid → sent:
  a payment refunded or charged back, the invoice is owed again).
- ``void``: an authorised credit note for the whole invoice (issued, sent or paid → voided, terminal).
  A draft is never voided: it has no fiscal existence and is simply deleted.

Partial payments are a derived figure, not a status (``payment_progress``): the amount paid moves
continuously with each payment and refund while the fiscal life of the receipt (CAE, sent, voided) does
not; a status would have to be recomputed after every payment anyway, would multiply the transitions
(sent+partial, issued+partial…) and would need a new value in the database enum. The invoice keeps
``paid_amount``; ``status_after_payments`` says when the total is reached (→ paid) or lost again
(→ sent).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from shared.states.machine import EventMachine, Move


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    PENDING_CAE = "pending_cae"
    ISSUED = "issued"
    SENT = "sent"
    PAID = "paid"
    REJECTED = "rejected"
    VOIDED = "voided"


class InvoiceEvent(StrEnum):
    REQUEST_CAE = "request_cae"  # draft → pending_cae
    AUTHORIZE = "authorize"  # pending_cae → issued (AFIP: Resultado A, CAE)
    REJECT = "reject"  # pending_cae → draft (AFIP: Resultado R, or a permanent error; reasons kept)
    REOPEN = "reopen"  # rejected (legacy rows) → draft
    SEND = "send"  # issued → sent
    PAY = "pay"  # issued | sent → paid (in full)
    REVERSE_PAYMENT = "reverse_payment"  # paid → sent (refund or chargeback)
    VOID = "void"  # issued | sent | paid → voided (credit note for the whole invoice)


WITH_CAE: frozenset[InvoiceStatus] = frozenset(
    {InvoiceStatus.ISSUED, InvoiceStatus.SENT, InvoiceStatus.PAID, InvoiceStatus.VOIDED}
)
"""Statuses of an invoice AFIP authorised: its fiscal fields are locked; corrections are notes."""

EDITABLE: frozenset[InvoiceStatus] = frozenset({InvoiceStatus.DRAFT})

INVOICE_EVENTS: dict[InvoiceEvent, Move[InvoiceStatus]] = {
    InvoiceEvent.REQUEST_CAE: Move(frozenset({InvoiceStatus.DRAFT}), InvoiceStatus.PENDING_CAE),
    InvoiceEvent.AUTHORIZE: Move(frozenset({InvoiceStatus.PENDING_CAE}), InvoiceStatus.ISSUED),
    InvoiceEvent.REJECT: Move(frozenset({InvoiceStatus.PENDING_CAE}), InvoiceStatus.DRAFT),
    InvoiceEvent.REOPEN: Move(frozenset({InvoiceStatus.REJECTED}), InvoiceStatus.DRAFT),
    InvoiceEvent.SEND: Move(frozenset({InvoiceStatus.ISSUED}), InvoiceStatus.SENT),
    InvoiceEvent.PAY: Move(frozenset({InvoiceStatus.ISSUED, InvoiceStatus.SENT}), InvoiceStatus.PAID),
    InvoiceEvent.REVERSE_PAYMENT: Move(frozenset({InvoiceStatus.PAID}), InvoiceStatus.SENT),
    InvoiceEvent.VOID: Move(
        frozenset({InvoiceStatus.ISSUED, InvoiceStatus.SENT, InvoiceStatus.PAID}), InvoiceStatus.VOIDED
    ),
}

INVOICE_MACHINE: EventMachine[InvoiceStatus, InvoiceEvent] = EventMachine("invoice", InvoiceStatus, INVOICE_EVENTS)


class PaymentProgress(StrEnum):
    """Derived from the invoice's total and what was paid; shown beside the status."""

    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


def payment_progress(total: Decimal, paid: Decimal) -> PaymentProgress:
    """Unpaid (nothing paid), partially paid (something, less than the total) or paid (the total or more)."""
    if paid <= 0:
        return PaymentProgress.UNPAID
    return PaymentProgress.PAID if paid >= total else PaymentProgress.PARTIALLY_PAID


def status_after_payments(status: InvoiceStatus | str, total: Decimal, paid: Decimal) -> InvoiceStatus:
    """The status once ``paid`` (the sum of the invoice's confirmed payments) is known.

    An issued or sent invoice becomes paid when the total is reached; a paid one goes back to sent when a
    refund or chargeback leaves it short. Every other status is unchanged: payments taken before the CAE
    (e.g. on the spot) count when the invoice is issued, and a voided invoice stays voided.
    """
    status = InvoiceStatus(status)
    settled = payment_progress(total, paid) is PaymentProgress.PAID
    if settled and INVOICE_MACHINE.applies(status, InvoiceEvent.PAY):
        return InvoiceStatus.PAID
    if not settled and INVOICE_MACHINE.applies(status, InvoiceEvent.REVERSE_PAYMENT):
        return InvoiceStatus.SENT
    return status


def credit_voids_invoice(invoice_total: Decimal, credited_total: Decimal) -> bool:
    """Whether the authorised credit notes of an invoice (their ``ImpTotal`` summed) cancel all of it."""
    return invoice_total > 0 and credited_total >= invoice_total
