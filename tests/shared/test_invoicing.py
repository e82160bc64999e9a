from __future__ import annotations

import datetime

import pytest

from shared.fiscal import invoicing
from shared.fiscal.afip_codes import AfipDocType, Concept, ReceiptType
from shared.fiscal.cuit import make_cuit
from shared.fiscal.documents import DocumentType
from shared.fiscal.invoicing import (
    InvoiceLetter,
    InvoiceRuleError,
    IssueDateBeforeLast,
    IssueDateOutOfRange,
    IssuerCannotInvoice,
    LinesMissing,
    PaymentDueBeforeIssue,
    ReceiverDocumentInvalid,
    ReceiverDocumentRequired,
    ServiceDates,
    ServiceDatesNotAllowed,
    ServiceDatesRequired,
    ServicePeriodInverted,
    check_issue_date,
    concept_for,
    invoice_letter,
    issue_date_window,
    receipt_type,
    receiver_document,
    service_dates,
)
from shared.fiscal.iva import IvaCondition

RI = IvaCondition.RESPONSABLE_INSCRIPTO
MONO = IvaCondition.MONOTRIBUTISTA
EX = IvaCondition.EXENTO
CF = IvaCondition.CONSUMIDOR_FINAL

PERSON_CUIT = make_cuit("20", "12345678")  # 20123456786
COMPANY_CUIT = make_cuit("30", "71234567")  # 30712345671
D = datetime.date


def test_letter_enum_mirrors_the_database() -> None:
    assert [letter.value for letter in InvoiceLetter] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("issuer", "receiver", "letter"),
    [
        (RI, RI, "A"),
        (RI, MONO, "A"),
        (RI, EX, "B"),
        (RI, CF, "B"),
        (MONO, RI, "C"),
        (MONO, MONO, "C"),
        (MONO, EX, "C"),
        (MONO, CF, "C"),
        (EX, RI, "C"),
        (EX, MONO, "C"),
        (EX, EX, "C"),
        (EX, CF, "C"),
        ("responsable_inscripto", "consumidor_final", "B"),
    ],
)
def test_invoice_letter(issuer: IvaCondition, receiver: IvaCondition, letter: str) -> None:
    assert invoice_letter(issuer, receiver) is InvoiceLetter(letter)


@pytest.mark.parametrize("receiver", list(IvaCondition))
def test_consumidor_final_cannot_issue(receiver: IvaCondition) -> None:
    with pytest.raises(IssuerCannotInvoice) as info:
        invoice_letter(CF, receiver)
    assert info.value.code == "invoice.issuer_cannot_invoice"
    assert "condición frente al IVA" in str(info.value)


@pytest.mark.parametrize(
    ("letter", "kind", "code"),
    [
        ("A", "invoice", 1),
        ("A", "debit_note", 2),
        ("A", "credit_note", 3),
        ("B", "invoice", 6),
        ("B", "debit_note", 7),
        ("B", "credit_note", 8),
        ("C", "invoice", 11),
        ("C", "debit_note", 12),
        ("C", "credit_note", 13),
        (InvoiceLetter.B, "invoice", ReceiptType.FACTURA_B),
    ],
)
def test_receipt_type(letter: str, kind: str, code: int) -> None:
    assert receipt_type(letter, kind) == code
    assert isinstance(receipt_type(letter, kind), ReceiptType)


@pytest.mark.parametrize(("letter", "kind"), [("M", "invoice"), ("A", "receipt"), ("", "invoice")])
def test_receipt_type_refuses_unknown_letter_or_kind(letter: str, kind: str) -> None:
    with pytest.raises(ValueError):
        receipt_type(letter, kind)


# -- receiver document ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_type", "number", "condition", "expected"),
    [
        (None, None, CF, (99, 0)),
        (DocumentType.NONE, "", CF, (99, 0)),
        ("none", None, CF, (99, 0)),
        (DocumentType.DNI, "12.345.678", CF, (96, 12345678)),
        (DocumentType.DNI, "7654321", CF, (96, 7654321)),
        (DocumentType.CUIL, make_cuit("27", "23456789"), CF, (86, int(make_cuit("27", "23456789")))),
        (DocumentType.CUIT, "20-12345678-6", CF, (80, 20123456786)),
        (DocumentType.CUIT, PERSON_CUIT, MONO, (80, 20123456786)),
        (DocumentType.CUIT, COMPANY_CUIT, RI, (80, 30712345671)),
        ("cuit", "30-71234567-1", EX, (80, 30712345671)),
    ],
)
def test_receiver_document(doc_type: DocumentType | None, number: str | None, condition, expected) -> None:
    result = receiver_document(doc_type, number, condition)
    assert result == expected
    assert isinstance(result[0], AfipDocType)


@pytest.mark.parametrize(
    ("doc_type", "number", "condition"),
    [
        (None, None, RI),
        (DocumentType.NONE, None, MONO),
        (DocumentType.NONE, "", EX),
        (DocumentType.DNI, "12345678", RI),
        (DocumentType.CUIL, PERSON_CUIT, MONO),
    ],
)
def test_taxpayer_receivers_need_a_cuit(doc_type, number, condition) -> None:
    with pytest.raises(ReceiverDocumentRequired) as info:
        receiver_document(doc_type, number, condition)
    assert info.value.code == "invoice.receiver_document_required"
    assert "CUIT" in str(info.value)


@pytest.mark.parametrize(
    ("doc_type", "number", "problem", "words"),
    [
        (DocumentType.CUIT, "20123456785", "check_digit", "dígito verificador"),
        (DocumentType.CUIT, "20267565392", "check_digit", "dígito verificador"),  # the spec's bad example
        (DocumentType.CUIT, "2012345678", "length", "11 dígitos"),
        (DocumentType.CUIT, "99123456786", "prefix", "empezar con"),
        (DocumentType.CUIL, COMPANY_CUIT, "prefix", "CUIL"),
        (DocumentType.DNI, "12a45678", "not_digits", "números"),
        (DocumentType.DNI, "123", "length", "7 u 8"),
        (DocumentType.NONE, "12345678", "number_without_type", "tipo de documento"),
        (DocumentType.CUIT, "", "empty", "Falta"),
    ],
)
def test_receiver_document_checks_the_number(doc_type, number, problem, words) -> None:
    with pytest.raises(ReceiverDocumentInvalid) as info:
        receiver_document(doc_type, number, CF)
    assert info.value.code == "invoice.receiver_document_invalid"
    assert info.value.details["problem"] == problem
    assert words in str(info.value)


def test_the_spec_valid_cuit_is_accepted() -> None:
    assert receiver_document("cuit", "20267565393", RI) == (80, 20267565393)


# -- concept -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "concept"),
    [
        ({"material"}, Concept.PRODUCTOS),
        ({"service"}, Concept.SERVICIOS),
        ({"service", "material"}, Concept.AMBOS),
        (["material", "material"], Concept.PRODUCTOS),
        (("service", "material", "service"), Concept.AMBOS),
    ],
)
def test_concept_for(kinds, concept: Concept) -> None:
    assert concept_for(kinds) is concept


def test_concept_for_no_lines() -> None:
    with pytest.raises(LinesMissing) as info:
        concept_for(set())
    assert info.value.code == "invoice.lines_missing"


def test_concept_for_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="labour"):
        concept_for({"labour"})


# -- service dates -------------------------------------------------------------------------------

ISSUE = D(2026, 11, 25)


@pytest.mark.parametrize(
    ("concept", "dates", "expected"),
    [
        (Concept.PRODUCTOS, (None, None, None), None),
        (1, (None, None, None), None),
        (
            Concept.SERVICIOS,
            (D(2026, 11, 1), D(2026, 11, 30), ISSUE),
            ServiceDates(D(2026, 11, 1), D(2026, 11, 30), ISSUE),
        ),
        (Concept.AMBOS, (ISSUE, ISSUE, ISSUE), ServiceDates(ISSUE, ISSUE, ISSUE)),
        (
            2,
            (D(2026, 10, 1), D(2026, 10, 1), D(2026, 12, 10)),
            ServiceDates(D(2026, 10, 1), D(2026, 10, 1), D(2026, 12, 10)),
        ),
    ],
)
def test_service_dates_accepted(concept, dates, expected) -> None:
    service_from, service_to, payment_due = dates
    assert service_dates(concept, service_from, service_to, payment_due, ISSUE) == expected


@pytest.mark.parametrize(
    ("concept", "dates", "error", "detail"),
    [
        (Concept.PRODUCTOS, (ISSUE, None, None), ServiceDatesNotAllowed, {"fields": ["serviceFrom"]}),
        (Concept.PRODUCTOS, (None, None, ISSUE), ServiceDatesNotAllowed, {"fields": ["paymentDue"]}),
        (
            Concept.SERVICIOS,
            (None, None, None),
            ServiceDatesRequired,
            {"missing": ["serviceFrom", "serviceTo", "paymentDue"]},
        ),
        (Concept.AMBOS, (ISSUE, ISSUE, None), ServiceDatesRequired, {"missing": ["paymentDue"]}),
        (Concept.SERVICIOS, (ISSUE, None, ISSUE), ServiceDatesRequired, {"missing": ["serviceTo"]}),
        (
            Concept.SERVICIOS,
            (D(2026, 11, 2), D(2026, 11, 1), ISSUE),
            ServicePeriodInverted,
            {"serviceFrom": "2026-11-02", "serviceTo": "2026-11-01"},
        ),
        (
            Concept.AMBOS,
            (ISSUE, ISSUE, D(2026, 11, 24)),
            PaymentDueBeforeIssue,
            {"paymentDue": "2026-11-24", "issueDate": "2026-11-25"},
        ),
    ],
)
def test_service_dates_refused(concept, dates, error, detail) -> None:
    service_from, service_to, payment_due = dates
    with pytest.raises(error) as info:
        service_dates(concept, service_from, service_to, payment_due, ISSUE)
    assert info.value.code.startswith("invoice.")
    for key, value in detail.items():
        assert info.value.details[key] == value


def test_service_date_messages_show_the_dates_in_argentine_format() -> None:
    with pytest.raises(ServicePeriodInverted, match="02/11/2026"):
        service_dates(Concept.SERVICIOS, D(2026, 11, 2), D(2026, 11, 1), ISSUE, ISSUE)
    with pytest.raises(PaymentDueBeforeIssue, match=r"24/11/2026.*25/11/2026"):
        service_dates(Concept.SERVICIOS, ISSUE, ISSUE, D(2026, 11, 24), ISSUE)


# -- issue date window ---------------------------------------------------------------------------

TODAY = D(2026, 11, 25)


@pytest.mark.parametrize(
    ("concept", "earliest", "latest"),
    [
        (Concept.PRODUCTOS, D(2026, 11, 20), D(2026, 11, 30)),
        (Concept.SERVICIOS, D(2026, 11, 15), D(2026, 12, 5)),
        (Concept.AMBOS, D(2026, 11, 15), D(2026, 12, 5)),
    ],
)
def test_issue_date_window(concept: Concept, earliest: datetime.date, latest: datetime.date) -> None:
    assert issue_date_window(TODAY, concept) == (earliest, latest)
    check_issue_date(earliest, TODAY, concept)
    check_issue_date(latest, TODAY, concept)
    check_issue_date(TODAY, TODAY, concept)
    for outside in (earliest - datetime.timedelta(days=1), latest + datetime.timedelta(days=1)):
        with pytest.raises(IssueDateOutOfRange) as info:
            check_issue_date(outside, TODAY, concept)
        assert info.value.code == "invoice.issue_date_out_of_range"
        assert info.value.details == {
            "issueDate": outside.isoformat(),
            "earliest": earliest.isoformat(),
            "latest": latest.isoformat(),
        }
        assert earliest.strftime("%d/%m/%Y") in str(info.value)
        assert latest.strftime("%d/%m/%Y") in str(info.value)


def test_issue_date_window_crosses_the_year() -> None:
    assert issue_date_window(D(2026, 12, 29), 1) == (D(2026, 12, 24), D(2027, 1, 3))


def test_issue_date_not_before_the_last_authorised() -> None:
    check_issue_date(TODAY, TODAY, Concept.PRODUCTOS, last_authorized=TODAY)
    check_issue_date(D(2026, 11, 22), TODAY, Concept.PRODUCTOS, last_authorized=D(2026, 11, 21))
    with pytest.raises(IssueDateBeforeLast) as info:
        check_issue_date(D(2026, 11, 22), TODAY, Concept.SERVICIOS, last_authorized=D(2026, 11, 23))
    assert info.value.code == "invoice.issue_date_before_last"
    assert "23/11/2026" in str(info.value)


def test_every_rule_error_is_an_invoice_rule_error_with_a_distinct_code() -> None:
    classes = [
        getattr(invoicing, name)
        for name in invoicing.__all__
        if isinstance(getattr(invoicing, name), type) and issubclass(getattr(invoicing, name), InvoiceRuleError)
    ]
    subclasses = [c for c in classes if c is not InvoiceRuleError]
    assert len(subclasses) >= 10
    codes = [c.code for c in subclasses]
    assert len(set(codes)) == len(codes)
    assert all(code.startswith("invoice.") for code in codes)
    assert issubclass(InvoiceRuleError, ValueError)
