"""Refunds, settlement and disputes: the rules, as plain functions.

- A refund can never exceed what was paid net of earlier refunds (``check_refund``); a payment is
  refunded (all of it) or partially refunded after it (``status_after_refund``).
- What a payment contributes to its invoice is its amount net of refunds while the seller holds the
  money (``net_paid``); a chargeback takes all of it back.
- Disputes (chargebacks, mediations): open → documentation_sent → won | lost, or straight to won/lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from shared.money import to_money
from shared.states.machine import StateMachine
from shared.states.payment import REFUNDABLE, SETTLED, PaymentStatus


class RefundProblem(StrEnum):
    NOT_REFUNDABLE = "not_refundable"  # the payment's status does not allow it
    NOT_POSITIVE = "not_positive"
    EXCEEDS_REFUNDABLE = "exceeds_refundable"


def refundable(amount: Decimal, refunded: Decimal) -> Decimal:
    """What is still refundable: the amount paid net of refunds already made (never negative)."""
    return max(to_money(amount) - to_money(refunded), Decimal("0.00"))


def check_refund(
    status: PaymentStatus | str, amount: Decimal, refunded: Decimal, requested: Decimal | None
) -> tuple[Decimal, RefundProblem | None]:
    """The amount to refund (``None`` requested = all that is left) and the problem, if any."""
    left = refundable(amount, refunded)
    wanted = left if requested is None else to_money(requested)
    if PaymentStatus(status) not in REFUNDABLE:
        return wanted, RefundProblem.NOT_REFUNDABLE
    if wanted <= 0:
        return wanted, RefundProblem.NOT_POSITIVE
    if wanted > left:
        return wanted, RefundProblem.EXCEEDS_REFUNDABLE
    return wanted, None


def status_after_refund(amount: Decimal, refunded_total: Decimal) -> PaymentStatus:
    """Refunded when nothing is left, partially refunded otherwise."""
    return PaymentStatus.REFUNDED if refundable(amount, refunded_total) == 0 else PaymentStatus.PARTIALLY_REFUNDED


def net_paid(status: PaymentStatus | str, amount: Decimal, refunded: Decimal) -> Decimal:
    """What the payment contributes to its invoice now."""
    if PaymentStatus(status) not in SETTLED:
        return Decimal("0.00")
    return refundable(amount, refunded)


def invoice_paid_total(payments: Iterable[tuple[PaymentStatus | str, Decimal, Decimal]]) -> Decimal:
    """The invoice's ``paid_amount``: the sum of ``net_paid`` over its payments."""
    return sum((net_paid(s, a, r) for s, a, r in payments), Decimal("0.00"))


def exceeds_balance(total: Decimal, paid: Decimal, amount: Decimal) -> bool:
    """Whether a new payment of ``amount`` would pay more than the invoice still owes."""
    return to_money(amount) > to_money(total) - to_money(paid)


class DisputeStatus(StrEnum):
    OPEN = "open"
    DOCUMENTATION_SENT = "documentation_sent"
    WON = "won"
    LOST = "lost"


DISPUTE_MACHINE: StateMachine[DisputeStatus] = StateMachine(
    "dispute",
    {
        DisputeStatus.OPEN: frozenset({DisputeStatus.DOCUMENTATION_SENT, DisputeStatus.WON, DisputeStatus.LOST}),
        DisputeStatus.DOCUMENTATION_SENT: frozenset({DisputeStatus.WON, DisputeStatus.LOST}),
        DisputeStatus.WON: frozenset(),
        DisputeStatus.LOST: frozenset(),
    },
)


def dispute_status_from_mp(status: str | None, coverage: str | None = None) -> DisputeStatus:
    """Our dispute status for a Mercado Pago chargeback (``status`` / ``coverage_applied`` vary by API)."""
    text = f"{status or ''} {coverage or ''}".lower()
    if any(word in text for word in ("won", "reimbursed", "covered", "closed_won")) and "not_covered" not in text:
        return DisputeStatus.WON
    if any(word in text for word in ("lost", "not_covered", "charged_back", "closed_lost")):
        return DisputeStatus.LOST
    if "documentation" in text and ("sent" in text or "received" in text):
        return DisputeStatus.DOCUMENTATION_SENT
    return DisputeStatus.OPEN
