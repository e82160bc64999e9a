"""Payment rules: Mercado Pago's statuses mapped to ours, CFT/TEA of cuotas, refunds, settlement, disputes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.payments.installments import FinancingError, financing_costs, label_figures
from shared.payments.rules import (
    DISPUTE_MACHINE,
    DisputeStatus,
    RefundProblem,
    check_refund,
    dispute_status_from_mp,
    exceeds_balance,
    invoice_paid_total,
    net_paid,
    refundable,
    status_after_refund,
)
from shared.states.payment import (
    PAYMENT_MACHINE,
    PaymentStatus,
    UnknownMercadoPagoStatus,
    mp_status_to_ours,
    path_to,
    resolve_target,
)

P = PaymentStatus


# -- Mercado Pago statuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail", "ours"),
    [
        ("pending", "pending_waiting_payment", P.PENDING),
        ("authorized", None, P.PENDING),
        ("in_process", "pending_review_manual", P.PENDING),
        ("approved", "accredited", P.APPROVED),
        ("APPROVED", "partially_refunded", P.PARTIALLY_REFUNDED),
        ("rejected", "cc_rejected_insufficient_amount", P.REJECTED),
        ("cancelled", "expired", P.CANCELLED),
        ("refunded", "refunded", P.REFUNDED),
        ("in_mediation", None, P.IN_MEDIATION),
        ("charged_back", "settled", P.CHARGED_BACK),
        ("charged_back", "reimbursed", P.WON),
    ],
)
def test_mp_statuses_map_to_ours(status: str, detail: str | None, ours: PaymentStatus) -> None:
    assert mp_status_to_ours(status, detail) is ours


def test_an_unknown_mp_status_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownMercadoPagoStatus):
        mp_status_to_ours("teleported")


def test_approved_after_a_mediation_means_the_seller_won() -> None:
    assert resolve_target(P.IN_MEDIATION, P.APPROVED) is P.WON
    assert resolve_target(P.PENDING, P.APPROVED) is P.APPROVED
    assert resolve_target(P.PARTIALLY_REFUNDED, P.APPROVED) is P.PARTIALLY_REFUNDED


def test_missed_notifications_are_applied_as_the_moves_they_stand_for() -> None:
    assert path_to(P.PENDING, P.APPROVED) == [P.APPROVED]
    assert path_to(P.PENDING, P.REFUNDED) == [P.APPROVED, P.REFUNDED]
    assert path_to(P.PENDING, P.CHARGED_BACK) == [P.APPROVED, P.IN_MEDIATION, P.CHARGED_BACK]
    assert path_to(P.APPROVED, P.APPROVED) == []
    # an older status than ours (a stale answer) has no way back
    assert path_to(P.APPROVED, P.PENDING) is None
    assert path_to(P.REFUNDED, P.APPROVED) is None
    # every step of a path is an allowed move
    route = path_to(P.PENDING, P.WON)
    assert route is not None
    current = P.PENDING
    for step in route:
        assert PAYMENT_MACHINE.can(current, step)
        current = step


# -- CFT / TEA ------------------------------------------------------------------------------------


def test_financing_costs_reproduce_mps_published_sample() -> None:
    # 3 cuotas at installment_rate 13.92%: 1000 → 1139.20; MP labels CFT 120,42% TEA 93,32%
    cft, tea = financing_costs(Decimal("1000"), 3, Decimal("1139.20"))
    assert abs(cft - Decimal("120.42")) <= Decimal("0.05")
    assert abs(tea - Decimal("93.32")) <= Decimal("0.05")
    assert cft.as_tuple().exponent == -2 and tea.as_tuple().exponent == -2


def test_financing_costs_without_interest_are_zero_and_grow_with_the_total() -> None:
    assert financing_costs(Decimal("5000"), 6, Decimal("5000")) == (Decimal("0.00"), Decimal("0.00"))
    cheaper = financing_costs(Decimal("5000"), 6, Decimal("5600"))
    dearer = financing_costs(Decimal("5000"), 6, Decimal("6200"))
    assert Decimal("0") < cheaper[0] < dearer[0]
    assert Decimal("0") < cheaper[1] < dearer[1]
    assert cheaper[1] < cheaper[0]  # TEA leaves IVA out, CFT carries it


@pytest.mark.parametrize(("amount", "n", "total"), [("0", 3, "10"), ("100", 0, "110"), ("100", 3, "90")])
def test_financing_costs_refuse_figures_that_are_not_a_loan(amount: str, n: int, total: str) -> None:
    with pytest.raises(FinancingError):
        financing_costs(Decimal(amount), n, Decimal(total))


def test_mp_labels_are_parsed_with_comma_decimals() -> None:
    assert label_figures(["CFT_120,42%|TEA_93,32%"]) == (Decimal("120.42"), Decimal("93.32"))
    assert label_figures(["recommended_installment", "TEA_0,00%|CFT_0,00%"]) == (Decimal("0.00"), Decimal("0.00"))
    assert label_figures("CFT_1.234,50%|TEA_99,9%") == (Decimal("1234.50"), Decimal("99.90"))
    assert label_figures([]) == (None, None)
    assert label_figures(None) == (None, None)
    assert label_figures(["recommended_installment"]) == (None, None)


# -- refunds and settlement -------------------------------------------------------------------------


def test_no_refund_above_what_was_paid_net_of_refunds() -> None:
    assert refundable(Decimal("1000"), Decimal("300")) == Decimal("700.00")
    assert check_refund(P.PARTIALLY_REFUNDED, Decimal("1000"), Decimal("300"), Decimal("700")) == (
        Decimal("700.00"),
        None,
    )
    assert check_refund(P.PARTIALLY_REFUNDED, Decimal("1000"), Decimal("300"), Decimal("700.01"))[1] is (
        RefundProblem.EXCEEDS_REFUNDABLE
    )
    assert check_refund(P.APPROVED, Decimal("1000"), Decimal("0"), None) == (Decimal("1000.00"), None)
    assert check_refund(P.APPROVED, Decimal("1000"), Decimal("0"), Decimal("0"))[1] is RefundProblem.NOT_POSITIVE
    assert check_refund(P.PENDING, Decimal("1000"), Decimal("0"), Decimal("10"))[1] is RefundProblem.NOT_REFUNDABLE
    assert check_refund(P.REFUNDED, Decimal("1000"), Decimal("1000"), None)[1] is RefundProblem.NOT_REFUNDABLE
    assert check_refund(P.IN_MEDIATION, Decimal("1000"), Decimal("0"), None)[1] is RefundProblem.NOT_REFUNDABLE


def test_status_after_refund() -> None:
    assert status_after_refund(Decimal("1000"), Decimal("400")) is P.PARTIALLY_REFUNDED
    assert status_after_refund(Decimal("1000"), Decimal("1000")) is P.REFUNDED


def test_only_money_the_seller_holds_counts_towards_the_invoice() -> None:
    assert net_paid(P.APPROVED, Decimal("500"), Decimal("0")) == Decimal("500.00")
    assert net_paid(P.PARTIALLY_REFUNDED, Decimal("500"), Decimal("200")) == Decimal("300.00")
    assert net_paid(P.REFUNDED, Decimal("500"), Decimal("500")) == Decimal("0.00")
    for status in (P.PENDING, P.REJECTED, P.CANCELLED, P.CHARGED_BACK):
        assert net_paid(status, Decimal("500"), Decimal("0")) == Decimal("0.00")
    total = invoice_paid_total(
        [
            (P.APPROVED, Decimal("400"), Decimal("0")),
            (P.REJECTED, Decimal("600"), Decimal("0")),
            ("won", Decimal("100"), Decimal("0")),
        ]
    )
    assert total == Decimal("500.00")
    assert exceeds_balance(Decimal("1000"), Decimal("600"), Decimal("400.01"))
    assert not exceeds_balance(Decimal("1000"), Decimal("600"), Decimal("400"))


def test_disputes() -> None:
    assert DISPUTE_MACHINE.can(DisputeStatus.OPEN, DisputeStatus.DOCUMENTATION_SENT)
    assert not DISPUTE_MACHINE.can(DisputeStatus.LOST, DisputeStatus.WON)
    assert dispute_status_from_mp("opened") is DisputeStatus.OPEN
    assert dispute_status_from_mp("closed", "covered") is DisputeStatus.WON
    assert dispute_status_from_mp("closed", "not_covered") is DisputeStatus.LOST
    assert dispute_status_from_mp("documentation_received") is DisputeStatus.DOCUMENTATION_SENT
