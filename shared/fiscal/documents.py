"""A customer's identity document (CUIT, CUIL, DNI or none) and the IVA condition it suggests.

``DocumentType`` mirrors the values of the ``document_type`` enum in the database exactly.
``AFIP_DOC_TIPO`` is the code AFIP's WSFE expects in ``DocTipo`` (99 "otro" with ``DocNro`` 0 for a
consumidor final without a document).
"""

from __future__ import annotations

import re
from enum import StrEnum

from shared.fiscal.cuit import COMPANY_PREFIXES, InvalidCuit, normalize_cuit, normalize_dni
from shared.fiscal.iva import IvaCondition


class DocumentType(StrEnum):
    CUIT = "cuit"
    CUIL = "cuil"
    DNI = "dni"
    NONE = "none"


AFIP_DOC_TIPO: dict[DocumentType, int] = {
    DocumentType.CUIT: 80,
    DocumentType.CUIL: 86,
    DocumentType.DNI: 96,
    DocumentType.NONE: 99,
}

# A CUIL is a person's: 20 (men), 27 (women), 23/24 (either, when the usual one is taken).
# The companies' 30/33/34 are CUITs only.
CUIL_PREFIXES = frozenset({"20", "23", "24", "27"})


class DocumentProblem(StrEnum):
    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    LENGTH = "length"
    PREFIX = "prefix"
    CHECK_DIGIT = "check_digit"
    NUMBER_WITHOUT_TYPE = "number_without_type"


_CUIL_MESSAGES: dict[DocumentProblem, str] = {
    DocumentProblem.EMPTY: "Falta el CUIL.",
    DocumentProblem.NOT_DIGITS: "El CUIL sólo puede tener números (y guiones).",
    DocumentProblem.LENGTH: "El CUIL debe tener 11 dígitos.",
    DocumentProblem.PREFIX: "El CUIL debe empezar con 20, 23, 24 o 27.",
    DocumentProblem.CHECK_DIGIT: "El dígito verificador del CUIL no coincide: revisá el número.",
}


class InvalidDocument(ValueError):
    """The number does not fit its document type; ``problem`` is stable, the message es-AR."""

    def __init__(self, doc_type: DocumentType, problem: DocumentProblem, message: str) -> None:
        self.doc_type = doc_type
        self.problem = problem
        super().__init__(message)


def normalize_document(doc_type: DocumentType | str, raw: str | None) -> str:
    """The number as stored: 11 digits for CUIT/CUIL, the DNI without dots or leading zeros, ``""`` for none.

    CUIT accepts every AFIP prefix (persons 20/23/24/25/26/27 and companies 30/33/34); CUIL only a
    person's 20/23/24/27; both need the mod-11 check digit. A DNI has 7 or 8 digits. A number given
    with type ``none`` is refused rather than guessed: the user picks its type.
    """
    kind = DocumentType(doc_type)
    text = (raw or "").strip()
    if kind is DocumentType.NONE:
        if text:
            raise InvalidDocument(
                kind, DocumentProblem.NUMBER_WITHOUT_TYPE, "Elegí el tipo de documento (CUIT, CUIL o DNI) del número."
            )
        return ""
    if kind is DocumentType.DNI:
        if not text:
            raise InvalidDocument(kind, DocumentProblem.EMPTY, "Falta el DNI.")
        if not re.sub(r"[\s.]", "", text).isdigit():
            raise InvalidDocument(kind, DocumentProblem.NOT_DIGITS, "El DNI sólo puede tener números (y puntos).")
        try:
            return normalize_dni(text)
        except ValueError as exc:
            raise InvalidDocument(kind, DocumentProblem.LENGTH, str(exc)) from None
    try:
        number = normalize_cuit(text)
    except InvalidCuit as exc:
        problem = DocumentProblem(exc.problem.value)
        message = str(exc) if kind is DocumentType.CUIT else _CUIL_MESSAGES[problem]
        raise InvalidDocument(kind, problem, message) from None
    if kind is DocumentType.CUIL and number[:2] not in CUIL_PREFIXES:
        raise InvalidDocument(kind, DocumentProblem.PREFIX, _CUIL_MESSAGES[DocumentProblem.PREFIX])
    return number


def default_iva_condition(doc_type: DocumentType | str, number: str | None = None) -> IvaCondition:
    """A starting IVA condition for a new customer: only a default, the user edits it.

    - none, DNI, CUIL → consumidor final (a person without a CUIT does not invoice as a taxpayer);
    - CUIT of a company (30/33/34) → responsable inscripto (companies cannot be monotributistas);
    - CUIT of a person (20/23/24/25/26/27) → monotributista, the usual case of a person with a CUIT
      who hires a trade; a person may also be responsable inscripto or exento, which only AFIP's
      padrón (constancia de inscripción) says, and that lookup replaces this guess when available.

    The invoice letter follows the condition, so the form shows it for the user to confirm.
    Raises ``InvalidDocument`` when the number does not fit the type.
    """
    kind = DocumentType(doc_type)
    normalized = normalize_document(kind, number)
    if kind is not DocumentType.CUIT:
        return IvaCondition.CONSUMIDOR_FINAL
    if normalized[:2] in COMPANY_PREFIXES:
        return IvaCondition.RESPONSABLE_INSCRIPTO
    return IvaCondition.MONOTRIBUTISTA
