from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from shared.states import INVOICE_MACHINE as EXPORTED_MACHINE
from shared.states import InvoiceStatus as ExportedStatus
from shared.states.invoice import (
    EDITABLE,
    INVOICE_MACHINE,
    WITH_CAE,
    InvoiceEvent,
    InvoiceStatus,
    PaymentProgress,
    credit_voids_invoice,
    payment_progress,
    status_after_payments,
)

S = InvoiceStatus
E = InvoiceEvent

# Every allowed move, with the event that names it; anything not listed is refused.
ALLOWED: dict[tuple[InvoiceStatus, InvoiceStatus], InvoiceEvent] = {
    (S.DRAFT, S.PENDING_CAE): E.REQUEST_CAE,
    (S.PENDING_CAE, S.ISSUED): E.AUTHORIZE,
    (S.PENDING_CAE, S.DRAFT): E.REJECT,
    (S.REJECTED, S.DRAFT): E.REOPEN,
    (S.ISSUED, S.SENT): E.SEND,
    (S.ISSUED, S.PAID): E.PAY,
    (S.SENT, S.PAID): E.PAY,
    (S.PAID, S.SENT): E.REVERSE_PAYMENT,
    (S.ISSUED, S.VOIDED): E.VOID,
    (S.SENT, S.VOIDED): E.VOID,
    (S.PAID, S.VOIDED): E.VOID,
}


def test_existing_names_keep_working() -> None:
    assert EXPORTED_MACHINE is INVOICE_MACHINE
    assert ExportedStatus is InvoiceStatus
    assert [s.value for s in InvoiceStatus] == [
        "draft",
        "pending_cae",
        "issued",
        "sent",
        "paid",
        "rejected",
        "voided",
    ]


def test_happy_path_step_by_step() -> None:
    path = [S.DRAFT, S.PENDING_CAE, S.ISSUED, S.SENT, S.PAID]
    for current, target in itertools.pairwise(path):
        assert INVOICE_MACHINE.can(current, target)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(InvoiceStatus, InvoiceStatus)))
def test_every_transition_is_allowed_or_refused(current: InvoiceStatus, target: InvoiceStatus) -> None:
    expected = ALLOWED.get((current, target))
    assert INVOICE_MACHINE.can(current, target) is (expected is not None)
    assert INVOICE_MACHINE.event_for(current, target) == expected
    if expected is not None:
        assert INVOICE_MACHINE.next_status(current, expected) == target


@pytest.mark.parametrize(("current", "event"), list(itertools.product(InvoiceStatus, InvoiceEvent)))
def test_every_event_applies_only_where_listed(current: InvoiceStatus, event: InvoiceEvent) -> None:
    targets = [t for (c, t), e in ALLOWED.items() if c == current and e == event]
    assert INVOICE_MACHINE.applies(current, event) is bool(targets)
    assert INVOICE_MACHINE.next_status(current, event) == (targets[0] if targets else None)


def test_afip_answers_decide_a_pending_invoice() -> None:
    # Only AFIP's answer moves a pending invoice: a CAE (issued) or a refusal (back to draft, reasons kept).
    assert INVOICE_MACHINE.allowed(S.PENDING_CAE) == {S.ISSUED, S.DRAFT}
    assert INVOICE_MACHINE.event_for(S.PENDING_CAE, S.DRAFT) is E.REJECT
    assert not INVOICE_MACHINE.can(S.DRAFT, S.ISSUED)


def test_legacy_rejected_status_only_leads_back_to_draft_and_nothing_leads_into_it() -> None:
    assert INVOICE_MACHINE.allowed(S.REJECTED) == {S.DRAFT}
    assert not any(S.REJECTED in INVOICE_MACHINE.allowed(status) for status in InvoiceStatus)


def test_voided_is_the_only_terminal_status_and_drafts_are_never_voided() -> None:
    assert [s for s in InvoiceStatus if INVOICE_MACHINE.is_terminal(s)] == [S.VOIDED]
    for status in (S.DRAFT, S.PENDING_CAE, S.REJECTED):
        assert not INVOICE_MACHINE.can(status, S.VOIDED)


def test_cae_statuses_cannot_go_back_to_editing() -> None:
    assert {S.ISSUED, S.SENT, S.PAID, S.VOIDED} == WITH_CAE
    assert {S.DRAFT} == EDITABLE
    for status in WITH_CAE:
        assert INVOICE_MACHINE.allowed(status) <= WITH_CAE


@pytest.mark.parametrize(
    ("total", "paid", "progress"),
    [
        ("1000.00", "0", PaymentProgress.UNPAID),
        ("1000.00", "0.01", PaymentProgress.PARTIALLY_PAID),
        ("1000.00", "999.99", PaymentProgress.PARTIALLY_PAID),
        ("1000.00", "1000.00", PaymentProgress.PAID),
        ("1000.00", "1200.00", PaymentProgress.PAID),
        ("1000.00", "-5", PaymentProgress.UNPAID),
    ],
)
def test_payment_progress(total: str, paid: str, progress: PaymentProgress) -> None:
    assert payment_progress(Decimal(total), Decimal(paid)) is progress


@pytest.mark.parametrize(
    ("status", "paid", "after"),
    [
        (S.ISSUED, "500", S.ISSUED),
        (S.ISSUED, "1000", S.PAID),
        (S.SENT, "999.99", S.SENT),
        (S.SENT, "1000", S.PAID),
        (S.SENT, "1500", S.PAID),
        (S.PAID, "1000", S.PAID),
        (S.PAID, "400", S.SENT),  # refund or chargeback
        (S.PAID, "0", S.SENT),
        (S.DRAFT, "1000", S.DRAFT),  # paid on the spot: counts once issued
        (S.PENDING_CAE, "1000", S.PENDING_CAE),
        (S.REJECTED, "1000", S.REJECTED),
        (S.VOIDED, "1000", S.VOIDED),
        (S.VOIDED, "0", S.VOIDED),
    ],
)
def test_status_after_payments(status: InvoiceStatus, paid: str, after: InvoiceStatus) -> None:
    result = status_after_payments(status, Decimal("1000"), Decimal(paid))
    assert result is after
    assert result == status or INVOICE_MACHINE.can(status, result)


@pytest.mark.parametrize(
    ("total", "credited", "voids"),
    [("1000", "1000", True), ("1000", "999.99", False), ("1000", "0", False), ("0", "0", False)],
)
def test_credit_voids_invoice(total: str, credited: str, voids: bool) -> None:
    assert credit_voids_invoice(Decimal(total), Decimal(credited)) is voids
