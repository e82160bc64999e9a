"""Invoicing rules of AFIP's WSFEv1, as plain functions: letter, receipt type, receiver, concept, dates.

Each refusal is an ``InvoiceRuleError`` subclass with a stable ``code`` (``invoice.*``), a Spanish message a
person can act on, and ``details`` for the API. The server maps them to an ``AppError``; nothing here
touches storage or the network.

Sources: ``../shared/specs/afip.md`` (letter table, codes, RG 5616 receiver conditions) and AFIP's WSFEv1
developer manual (ARCA, "Manual para el desarrollador", ``FECAESolicitar`` field rules) for the date
windows and the service dates, quoted at each function.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

from shared.fiscal.afip_codes import (
    AfipDocType,
    Concept,
    CondicionIvaReceptor,
    ReceiptKind,
    ReceiptType,
    receiver_condition_allows,
    receiver_condition_id,
)
from shared.fiscal.documents import AFIP_DOC_TIPO, DocumentType, InvalidDocument, normalize_document
from shared.fiscal.iva import IvaCondition

__all__ = [
    "ARGENTINA",
    "PRODUCT_DATE_WINDOW_DAYS",
    "SERVICE_DATE_WINDOW_DAYS",
    "CondicionIvaReceptor",
    "InvoiceLetter",
    "InvoiceRuleError",
    "IssueDateBeforeLast",
    "IssueDateOutOfRange",
    "IssuerCannotInvoice",
    "LinesMissing",
    "PaymentDueBeforeIssue",
    "ReceiverDocumentInvalid",
    "ReceiverDocumentRequired",
    "ServiceDates",
    "ServiceDatesNotAllowed",
    "ServiceDatesRequired",
    "ServicePeriodInverted",
    "check_issue_date",
    "concept_for",
    "invoice_letter",
    "issue_date_window",
    "receipt_type",
    "receiver_condition_allows",
    "receiver_condition_id",
    "receiver_document",
    "service_dates",
]


class InvoiceLetter(StrEnum):
    """The class of a receipt; mirrors the database enum ``invoice_letter``."""

    A = "A"
    B = "B"
    C = "C"


def _fmt(day: datetime.date) -> str:
    return day.strftime("%d/%m/%Y")


class InvoiceRuleError(ValueError):
    """An invoice that AFIP would refuse, found before asking AFIP. ``code`` is stable, the message es-AR."""

    code: ClassVar[str] = "invoice.rule"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details


class IssuerCannotInvoice(InvoiceRuleError):
    code = "invoice.issuer_cannot_invoice"


class ReceiverDocumentRequired(InvoiceRuleError):
    code = "invoice.receiver_document_required"


class ReceiverDocumentInvalid(InvoiceRuleError):
    code = "invoice.receiver_document_invalid"


class LinesMissing(InvoiceRuleError):
    code = "invoice.lines_missing"


class ServiceDatesRequired(InvoiceRuleError):
    code = "invoice.service_dates_required"


class ServiceDatesNotAllowed(InvoiceRuleError):
    code = "invoice.service_dates_not_allowed"


class ServicePeriodInverted(InvoiceRuleError):
    code = "invoice.service_period_inverted"


class PaymentDueBeforeIssue(InvoiceRuleError):
    code = "invoice.payment_due_before_issue"


class IssueDateOutOfRange(InvoiceRuleError):
    code = "invoice.issue_date_out_of_range"


class IssueDateBeforeLast(InvoiceRuleError):
    code = "invoice.issue_date_before_last"


# -- letter and receipt type ----------------------------------------------------------------------

_TAXPAYER_RECEIVERS = frozenset({IvaCondition.RESPONSABLE_INSCRIPTO, IvaCondition.MONOTRIBUTISTA})


def invoice_letter(issuer: IvaCondition | str, receiver: IvaCondition | str) -> InvoiceLetter:
    """The letter from the issuer's and the receiver's IVA conditions (specs/afip.md, "Invoice letter").

    - Responsable inscripto → A to a responsable inscripto or monotributista, B to everyone else
      (exento, consumidor final);
    - monotributista or exento → C to everyone.

    A consumidor final cannot issue invoices: ``IssuerCannotInvoice``.
    Credit/debit notes take the letter of the invoice they correct, not this function's answer.
    """
    issuer = IvaCondition(issuer)
    receiver = IvaCondition(receiver)
    if issuer is IvaCondition.RESPONSABLE_INSCRIPTO:
        return InvoiceLetter.A if receiver in _TAXPAYER_RECEIVERS else InvoiceLetter.B
    if issuer in (IvaCondition.MONOTRIBUTISTA, IvaCondition.EXENTO):
        return InvoiceLetter.C
    raise IssuerCannotInvoice(
        "La organización figura como consumidor final y no puede emitir facturas: "
        "cargá su condición frente al IVA (responsable inscripto, monotributista o exento).",
        issuer=str(issuer),
    )


_RECEIPT_TYPES: dict[tuple[InvoiceLetter, ReceiptKind], ReceiptType] = {
    (InvoiceLetter.A, ReceiptKind.INVOICE): ReceiptType.FACTURA_A,
    (InvoiceLetter.A, ReceiptKind.DEBIT_NOTE): ReceiptType.NOTA_DEBITO_A,
    (InvoiceLetter.A, ReceiptKind.CREDIT_NOTE): ReceiptType.NOTA_CREDITO_A,
    (InvoiceLetter.B, ReceiptKind.INVOICE): ReceiptType.FACTURA_B,
    (InvoiceLetter.B, ReceiptKind.DEBIT_NOTE): ReceiptType.NOTA_DEBITO_B,
    (InvoiceLetter.B, ReceiptKind.CREDIT_NOTE): ReceiptType.NOTA_CREDITO_B,
    (InvoiceLetter.C, ReceiptKind.INVOICE): ReceiptType.FACTURA_C,
    (InvoiceLetter.C, ReceiptKind.DEBIT_NOTE): ReceiptType.NOTA_DEBITO_C,
    (InvoiceLetter.C, ReceiptKind.CREDIT_NOTE): ReceiptType.NOTA_CREDITO_C,
}


def receipt_type(letter: InvoiceLetter | str, kind: ReceiptKind | str) -> ReceiptType:
    """``CbteTipo`` for a letter and a kind: A 1/2/3, B 6/7/8, C 11/12/13 (invoice, debit note, credit note)."""
    return _RECEIPT_TYPES[(InvoiceLetter(letter), ReceiptKind(kind))]


# -- receiver -------------------------------------------------------------------------------------


def receiver_document(
    doc_type: DocumentType | str | None, number: str | None, condition: IvaCondition | str
) -> tuple[AfipDocType, int]:
    """``(DocTipo, DocNro)`` for the receiver.

    - No document (type ``None``/``none`` and no number): only a consumidor final → ``(99, 0)``.
    - A responsable inscripto, monotributista or exento receiver is a taxpayer identified by CUIT
      (Factura A requires DocTipo 80; an exento receives B with its CUIT): anything else is
      ``ReceiverDocumentRequired``.
    - The number is checked for its type (CUIT/CUIL mod-11 check digit, DNI 7–8 digits):
      ``ReceiverDocumentInvalid`` carries the document's own Spanish message.

    Not implemented: AFIP's rule that a Factura B to a consumidor final above an amount must identify
    the buyer — the spec does not give the amount (it is set, and updated, by AFIP resolutions).
    """
    condition = IvaCondition(condition)
    kind = DocumentType(doc_type) if doc_type is not None else DocumentType.NONE
    text = (number or "").strip()
    if kind is DocumentType.NONE and not text:
        if condition is IvaCondition.CONSUMIDOR_FINAL:
            return AfipDocType.OTRO, 0
        raise ReceiverDocumentRequired(
            "Para facturarle a un cliente responsable inscripto, monotributista o exento hace falta su CUIT: "
            "cargalo en la ficha del cliente.",
            condition=str(condition),
        )
    try:
        normalized = normalize_document(kind, text)
    except InvalidDocument as exc:
        raise ReceiverDocumentInvalid(str(exc), docType=str(kind), problem=str(exc.problem)) from None
    if condition is not IvaCondition.CONSUMIDOR_FINAL and kind is not DocumentType.CUIT:
        raise ReceiverDocumentRequired(
            "Para facturarle a un cliente responsable inscripto, monotributista o exento hace falta su CUIT, "
            "no otro documento: cargalo en la ficha del cliente.",
            condition=str(condition),
            docType=str(kind),
        )
    return AfipDocType(AFIP_DOC_TIPO[kind]), int(normalized)


# -- concept and dates ----------------------------------------------------------------------------


def concept_for(kinds: Iterable[str]) -> Concept:
    """``Concepto`` from the kinds of the lines ("service" / "material", the price book's ``ItemKind``):
    only materials → 1 productos, only services → 2 servicios, both → 3 ambos.

    No lines → ``LinesMissing``; an unknown kind → ``ValueError`` (a programming error).
    """
    present = {str(k) for k in kinds}
    unknown = present - {"service", "material"}
    if unknown:
        raise ValueError(f"unknown line kinds: {sorted(unknown)}")
    if not present:
        raise LinesMissing("La factura no tiene líneas: agregá al menos un servicio o material.")
    if present == {"material"}:
        return Concept.PRODUCTOS
    if present == {"service"}:
        return Concept.SERVICIOS
    return Concept.AMBOS


class ServiceDates(NamedTuple):
    service_from: datetime.date  # FchServDesde
    service_to: datetime.date  # FchServHasta
    payment_due: datetime.date  # FchVtoPago


def service_dates(
    concept: Concept | int,
    service_from: datetime.date | None,
    service_to: datetime.date | None,
    payment_due: datetime.date | None,
    issue_date: datetime.date,
) -> ServiceDates | None:
    """Checks ``FchServDesde``/``FchServHasta``/``FchVtoPago`` for a concept (WSFEv1 manual, FECAESolicitar):

    - Concepto 1 (productos): none of them is sent → returns None; giving any is ``ServiceDatesNotAllowed``.
    - Concepto 2 or 3: all three are mandatory (``ServiceDatesRequired`` names the missing ones);
      from ≤ to (``ServicePeriodInverted``); the payment due date is not before the receipt's date
      (``PaymentDueBeforeIssue``).
    """
    concept = Concept(concept)
    given = {"serviceFrom": service_from, "serviceTo": service_to, "paymentDue": payment_due}
    if concept is Concept.PRODUCTOS:
        sent = [name for name, value in given.items() if value is not None]
        if sent:
            raise ServiceDatesNotAllowed(
                "Una factura de productos no lleva período de servicio ni vencimiento de pago: quitá esas fechas.",
                fields=sent,
            )
        return None
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise ServiceDatesRequired(
            "Una factura de servicios necesita el período facturado (desde y hasta) "
            "y la fecha de vencimiento del pago.",
            missing=missing,
        )
    assert service_from is not None and service_to is not None and payment_due is not None
    if service_from > service_to:
        raise ServicePeriodInverted(
            f"El período del servicio empieza el {_fmt(service_from)} y termina antes, el {_fmt(service_to)}: "
            "revisá las fechas.",
            serviceFrom=service_from.isoformat(),
            serviceTo=service_to.isoformat(),
        )
    if payment_due < issue_date:
        raise PaymentDueBeforeIssue(
            f"El vencimiento del pago ({_fmt(payment_due)}) no puede ser anterior a la fecha de la factura "
            f"({_fmt(issue_date)}).",
            paymentDue=payment_due.isoformat(),
            issueDate=issue_date.isoformat(),
        )
    return ServiceDates(service_from, service_to, payment_due)


# AFIP's clock: Argentina has kept UTC-3 all year since 2009 (no DST); AFIP answers in this offset too.
ARGENTINA = datetime.timezone(datetime.timedelta(hours=-3), "ART")

# CbteFch window around the day the CAE is requested. specs/afip.md gives N-5..N+5 for products and
# "services allow more" (error 10016 when outside); the ±10 days for concepts 2 and 3 come from AFIP's
# WSFEv1 developer manual (FECAESolicitar, field CbteFch; paraphrased: concept 1 up to 5 days before or
# after the request, concepts 2 and 3 up to 10), not from the spec: confirm against the current manual.
PRODUCT_DATE_WINDOW_DAYS = 5
SERVICE_DATE_WINDOW_DAYS = 10


def issue_date_window(today: datetime.date, concept: Concept | int) -> tuple[datetime.date, datetime.date]:
    """The first and last ``CbteFch`` AFIP accepts today for ``concept`` (both inclusive)."""
    days = PRODUCT_DATE_WINDOW_DAYS if Concept(concept) is Concept.PRODUCTOS else SERVICE_DATE_WINDOW_DAYS
    delta = datetime.timedelta(days=days)
    return today - delta, today + delta


def check_issue_date(
    cbte_fch: datetime.date,
    today: datetime.date,
    concept: Concept | int,
    *,
    last_authorized: datetime.date | None = None,
) -> None:
    """Refuses a ``CbteFch`` AFIP would reject (error 10016): outside ``issue_date_window`` →
    ``IssueDateOutOfRange`` naming the range; before the date of the last receipt AFIP authorised for the
    same point of sale and type (numbers and dates go up together) → ``IssueDateBeforeLast``.

    ``today`` is the day in Argentina (UTC−3) when the CAE is requested.
    """
    earliest, latest = issue_date_window(today, concept)
    if not earliest <= cbte_fch <= latest:
        raise IssueDateOutOfRange(
            f"La fecha de la factura ({_fmt(cbte_fch)}) está fuera de lo que acepta AFIP hoy: "
            f"tiene que estar entre el {_fmt(earliest)} y el {_fmt(latest)}.",
            issueDate=cbte_fch.isoformat(),
            earliest=earliest.isoformat(),
            latest=latest.isoformat(),
        )
    if last_authorized is not None and cbte_fch < last_authorized:
        raise IssueDateBeforeLast(
            f"La fecha de la factura ({_fmt(cbte_fch)}) es anterior a la del último comprobante autorizado "
            f"de ese punto de venta ({_fmt(last_authorized)}): usá esa fecha o una posterior.",
            issueDate=cbte_fch.isoformat(),
            lastAuthorized=last_authorized.isoformat(),
        )
