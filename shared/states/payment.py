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
