"""Payment status flow, including refunds and disputes (Mercado Pago's statuses mapped to ours)."""

from __future__ import annotations

from enum import StrEnum

from shared.states.machine import StateMachine


class PaymentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    IN_MEDIATION = "in_mediation"
    CHARGED_BACK = "charged_back"
    WON = "won"


class PaymentMethod(StrEnum):
    MERCADOPAGO = "mercadopago"
    CASH = "cash"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"


PAYMENT_MACHINE: StateMachine[PaymentStatus] = StateMachine(
    "payment",
    {
        PaymentStatus.PENDING: frozenset({PaymentStatus.APPROVED, PaymentStatus.REJECTED, PaymentStatus.CANCELLED}),
        PaymentStatus.APPROVED: frozenset(
            {PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.IN_MEDIATION}
        ),
        PaymentStatus.PARTIALLY_REFUNDED: frozenset(
            {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED, PaymentStatus.IN_MEDIATION}
        ),
        PaymentStatus.IN_MEDIATION: frozenset({PaymentStatus.CHARGED_BACK, PaymentStatus.WON}),
        PaymentStatus.WON: frozenset({PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED}),
        PaymentStatus.REJECTED: frozenset(),
        PaymentStatus.CANCELLED: frozenset(),
        PaymentStatus.REFUNDED: frozenset(),
        PaymentStatus.CHARGED_BACK: frozenset(),
    },
)


# -- Mercado Pago's statuses ----------------------------------------------------------------------
#
# Mercado Pago reports ``status`` + ``status_detail``. ``authorized`` (card reserved, not captured) and
# ``in_process`` (under review) are still pending for us; an ``approved`` payment with part of it given
# back says so in ``status_detail`` (``partially_refunded``); a chargeback MP later covered for the seller
# is ``charged_back`` / ``reimbursed`` (we count it as won).

MP_STATUS_MAP: dict[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.PENDING,
    "in_process": PaymentStatus.PENDING,
    "approved": PaymentStatus.APPROVED,
    "rejected": PaymentStatus.REJECTED,
    "cancelled": PaymentStatus.CANCELLED,
    "refunded": PaymentStatus.REFUNDED,
    "in_mediation": PaymentStatus.IN_MEDIATION,
    "charged_back": PaymentStatus.CHARGED_BACK,
}

# Statuses whose money the seller holds (net of refunds): they count towards the invoice.
SETTLED: frozenset[PaymentStatus] = frozenset(
    {
        PaymentStatus.APPROVED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.IN_MEDIATION,  # held by MP during the dispute, still ours until charged back
        PaymentStatus.WON,
    }
)

# Statuses a refund may start from.
REFUNDABLE: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.APPROVED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.WON}
)


class UnknownMercadoPagoStatus(ValueError):
    """Mercado Pago sent a status this code does not know (stored raw; the payment is left alone)."""


def mp_status_to_ours(status: str, status_detail: str | None = None) -> PaymentStatus:
    """Our status for Mercado Pago's ``status`` / ``status_detail`` (case-insensitive)."""
    key = (status or "").strip().lower()
    detail = (status_detail or "").strip().lower()
    if key not in MP_STATUS_MAP:
        raise UnknownMercadoPagoStatus(status)
    if key == "approved" and detail == "partially_refunded":
        return PaymentStatus.PARTIALLY_REFUNDED
    if key == "charged_back" and detail == "reimbursed":
        return PaymentStatus.WON
    return MP_STATUS_MAP[key]


def resolve_target(current: PaymentStatus, reported: PaymentStatus) -> PaymentStatus:
    """Where a payment in ``current`` goes when MP reports ``reported``.

    A mediation the seller won comes back from MP as plain ``approved``: after ``in_mediation`` that
    means won. ``approved`` after a partial refund (MP's detail lost) stays partially refunded.
    """
    if current is PaymentStatus.IN_MEDIATION and reported is PaymentStatus.APPROVED:
        return PaymentStatus.WON
    if current is PaymentStatus.PARTIALLY_REFUNDED and reported is PaymentStatus.APPROVED:
        return PaymentStatus.PARTIALLY_REFUNDED
    if current is PaymentStatus.WON and reported is PaymentStatus.APPROVED:
        return PaymentStatus.WON
    return reported


def path_to(current: PaymentStatus, target: PaymentStatus) -> list[PaymentStatus] | None:
    """The shortest list of moves from ``current`` to ``target`` (``[]`` when already there).

    A notification we missed (approved, then refunded, seen only as refunded) is still applied as the
    moves it stands for, each recorded once; None when the machine has no way there (an older status
    than ours: MP's answer is stale, or someone changed it by hand).
    """
    if current is target:
        return []
    frontier: list[list[PaymentStatus]] = [[current]]
    seen = {current}
    while frontier:
        nxt: list[list[PaymentStatus]] = []
        for route in frontier:
            for step in sorted(PAYMENT_MACHINE.allowed(route[-1])):
                if step in seen:
                    continue
                if step is target:
                    return [*route[1:], step]
                seen.add(step)
                nxt.append([*route, step])
        frontier = nxt
    return None
