from __future__ import annotations

import itertools

import pytest

from shared.states import INVOICE_MACHINE, JOB_MACHINE, PAYMENT_MACHINE, InvoiceStatus, JobStatus, PaymentStatus


def test_job_happy_path_is_allowed_step_by_step() -> None:
    path = [JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.EN_CAMINO, JobStatus.WORKING, JobStatus.COMPLETED]
    for current, target in itertools.pairwise(path):
        assert JOB_MACHINE.can(current, target)


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.EN_CAMINO, JobStatus.WORKING])
def test_job_cancellable_before_completion(status: JobStatus) -> None:
    assert JOB_MACHINE.can(status, JobStatus.CANCELLED)


def test_job_terminal_states() -> None:
    assert JOB_MACHINE.is_terminal(JobStatus.COMPLETED)
    assert JOB_MACHINE.is_terminal(JobStatus.CANCELLED)
    assert not JOB_MACHINE.can(JobStatus.COMPLETED, JobStatus.CANCELLED)
    assert not JOB_MACHINE.can(JobStatus.PENDING, JobStatus.COMPLETED)


def test_every_status_has_a_row() -> None:
    for machine, enum in ((JOB_MACHINE, JobStatus), (INVOICE_MACHINE, InvoiceStatus), (PAYMENT_MACHINE, PaymentStatus)):
        assert set(machine.transitions) == set(enum)
        for targets in machine.transitions.values():
            assert targets <= set(enum)


def test_invoice_rejected_goes_back_to_draft_only() -> None:
    assert INVOICE_MACHINE.allowed(InvoiceStatus.REJECTED) == {InvoiceStatus.DRAFT}
    assert not INVOICE_MACHINE.can(InvoiceStatus.DRAFT, InvoiceStatus.ISSUED)
