from __future__ import annotations

import pytest

from shared.fiscal.cuit import make_cuit
from shared.fiscal.documents import (
    AFIP_DOC_TIPO,
    DocumentProblem,
    DocumentType,
    InvalidDocument,
    default_iva_condition,
    normalize_document,
)
from shared.fiscal.iva import IvaCondition

PERSON_CUIT = make_cuit("20", "12345678")  # 20123456786
WOMAN_CUIL = make_cuit("27", "23456789")
COMPANY_CUIT = make_cuit("30", "71234567")  # 30712345671


def test_values_mirror_the_database_enum() -> None:
    assert [t.value for t in DocumentType] == ["cuit", "cuil", "dni", "none"]


def test_afip_doc_tipo_codes() -> None:
    assert AFIP_DOC_TIPO == {
        DocumentType.CUIT: 80,
        DocumentType.CUIL: 86,
        DocumentType.DNI: 96,
        DocumentType.NONE: 99,
    }


@pytest.mark.parametrize(
    ("doc_type", "raw", "expected"),
    [
        (DocumentType.CUIT, "20-12345678-6", "20123456786"),
        (DocumentType.CUIT, " 30-71234567-1 ", "30712345671"),
        (DocumentType.CUIT, "30.71234567.1", "30712345671"),
        ("cuit", "20 12345678 6", "20123456786"),
        (DocumentType.CUIL, "20-12345678-6", "20123456786"),
        (DocumentType.CUIL, f"{WOMAN_CUIL[:2]}-{WOMAN_CUIL[2:10]}-{WOMAN_CUIL[10]}", WOMAN_CUIL),
        (DocumentType.CUIL, make_cuit("23", "12345678"), make_cuit("23", "12345678")),
        (DocumentType.CUIL, make_cuit("24", "12345678"), make_cuit("24", "12345678")),
        (DocumentType.DNI, "12.345.678", "12345678"),
        (DocumentType.DNI, "1234567", "1234567"),
        (DocumentType.DNI, "01234567", "1234567"),
        (DocumentType.DNI, " 30 123 456 ", "30123456"),
        (DocumentType.NONE, "", ""),
        (DocumentType.NONE, None, ""),
        (DocumentType.NONE, "   ", ""),
    ],
)
def test_normalize_document(doc_type: DocumentType | str, raw: str | None, expected: str) -> None:
    assert normalize_document(doc_type, raw) == expected


@pytest.mark.parametrize(
    ("doc_type", "raw", "problem", "says"),
    [
        (DocumentType.CUIT, "", DocumentProblem.EMPTY, "CUIT"),
        (DocumentType.CUIT, "20-1234567A-6", DocumentProblem.NOT_DIGITS, "CUIT"),
        (DocumentType.CUIT, "2012345678", DocumentProblem.LENGTH, "11 dígitos"),
        (DocumentType.CUIT, "99123456786", DocumentProblem.PREFIX, "CUIT"),
        (DocumentType.CUIT, "20123456787", DocumentProblem.CHECK_DIGIT, "verificador"),
        (DocumentType.CUIL, "", DocumentProblem.EMPTY, "CUIL"),
        (DocumentType.CUIL, "20123456787", DocumentProblem.CHECK_DIGIT, "CUIL"),
        (DocumentType.CUIL, COMPANY_CUIT, DocumentProblem.PREFIX, "20, 23, 24 o 27"),
        (DocumentType.CUIL, make_cuit("25", "12345678"), DocumentProblem.PREFIX, "CUIL"),
        (DocumentType.DNI, "", DocumentProblem.EMPTY, "DNI"),
        (DocumentType.DNI, "123456", DocumentProblem.LENGTH, "7 u 8"),
        (DocumentType.DNI, "123456789", DocumentProblem.LENGTH, "7 u 8"),
        (DocumentType.DNI, "12-345-678", DocumentProblem.NOT_DIGITS, "números"),
        (DocumentType.DNI, PERSON_CUIT, DocumentProblem.LENGTH, "DNI"),
        (DocumentType.NONE, "12345678", DocumentProblem.NUMBER_WITHOUT_TYPE, "tipo de documento"),
    ],
)
def test_invalid_documents_name_their_problem(
    doc_type: DocumentType, raw: str, problem: DocumentProblem, says: str
) -> None:
    with pytest.raises(InvalidDocument) as caught:
        normalize_document(doc_type, raw)
    assert caught.value.problem is problem
    assert caught.value.doc_type is doc_type
    assert says in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unknown_document_type_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_document("pasaporte", "AB123456")


@pytest.mark.parametrize(
    ("doc_type", "number", "condition"),
    [
        (DocumentType.NONE, None, IvaCondition.CONSUMIDOR_FINAL),
        (DocumentType.NONE, "", IvaCondition.CONSUMIDOR_FINAL),
        (DocumentType.DNI, "12.345.678", IvaCondition.CONSUMIDOR_FINAL),
        (DocumentType.CUIL, PERSON_CUIT, IvaCondition.CONSUMIDOR_FINAL),
        (DocumentType.CUIL, WOMAN_CUIL, IvaCondition.CONSUMIDOR_FINAL),
        (DocumentType.CUIT, COMPANY_CUIT, IvaCondition.RESPONSABLE_INSCRIPTO),
        (DocumentType.CUIT, make_cuit("33", "12345678"), IvaCondition.RESPONSABLE_INSCRIPTO),
        (DocumentType.CUIT, make_cuit("34", "12345678"), IvaCondition.RESPONSABLE_INSCRIPTO),
        (DocumentType.CUIT, PERSON_CUIT, IvaCondition.MONOTRIBUTISTA),
        (DocumentType.CUIT, WOMAN_CUIL, IvaCondition.MONOTRIBUTISTA),
        (DocumentType.CUIT, make_cuit("23", "12345678"), IvaCondition.MONOTRIBUTISTA),
        ("cuit", "30-71234567-1", IvaCondition.RESPONSABLE_INSCRIPTO),
    ],
)
def test_default_iva_condition(doc_type: DocumentType | str, number: str | None, condition: IvaCondition) -> None:
    assert default_iva_condition(doc_type, number) is condition


def test_default_iva_condition_refuses_invalid_numbers() -> None:
    with pytest.raises(InvalidDocument):
        default_iva_condition(DocumentType.CUIT, "20123456787")
