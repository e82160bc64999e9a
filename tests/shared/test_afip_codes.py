from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from shared.fiscal.afip_codes import (
    ALIC_IVA_RATES,
    CONDICION_IVA_RECEPTOR_DESCRIPTIONS,
    RECEIPT_CLASSES,
    RECEIPT_TYPE_DESCRIPTIONS,
    AfipDocType,
    AlicIva,
    Concept,
    CondicionIvaReceptor,
    ReceiptKind,
    ReceiptType,
    alic_iva_id,
    receiver_condition_allows,
    receiver_condition_id,
)
from shared.fiscal.documents import AFIP_DOC_TIPO
from shared.fiscal.iva import IvaCondition
from shared.pricing import AFIP_IVA_RATES

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "specs" / "afip" / "django_afip_fixtures"


def _fixture(name: str) -> dict[int, dict[str, str]]:
    path = FIXTURES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"AFIP fixture {path} not available")
    return {int(row["fields"]["code"]): row["fields"] for row in json.loads(path.read_text(encoding="utf-8"))}


@pytest.mark.parametrize(
    ("member", "code"),
    [
        (ReceiptType.FACTURA_A, 1),
        (ReceiptType.NOTA_DEBITO_A, 2),
        (ReceiptType.NOTA_CREDITO_A, 3),
        (ReceiptType.RECIBO_A, 4),
        (ReceiptType.FACTURA_B, 6),
        (ReceiptType.NOTA_DEBITO_B, 7),
        (ReceiptType.NOTA_CREDITO_B, 8),
        (ReceiptType.RECIBO_B, 9),
        (ReceiptType.FACTURA_C, 11),
        (ReceiptType.NOTA_DEBITO_C, 12),
        (ReceiptType.NOTA_CREDITO_C, 13),
        (ReceiptType.RECIBO_C, 15),
    ],
)
def test_receipt_type_codes(member: ReceiptType, code: int) -> None:
    assert member == code
    assert RECEIPT_TYPE_DESCRIPTIONS[code]


def test_receipt_type_table_matches_afip() -> None:
    fixture = _fixture("receipttype")
    assert {code: fields["description"] for code, fields in fixture.items()} == dict(RECEIPT_TYPE_DESCRIPTIONS)
    for member in ReceiptType:
        assert member.value in fixture


def test_receipt_classes_name_letter_and_kind_in_the_description() -> None:
    words = {ReceiptKind.INVOICE: "Factura", ReceiptKind.DEBIT_NOTE: "Débito", ReceiptKind.CREDIT_NOTE: "Crédito"}
    assert len(RECEIPT_CLASSES) == 9
    for code, (letter, kind) in RECEIPT_CLASSES.items():
        description = RECEIPT_TYPE_DESCRIPTIONS[code]
        assert description.endswith(f" {letter}")
        assert words[kind] in description


def test_doc_types_match_afip_and_the_customer_documents() -> None:
    fixture = _fixture("documenttype")
    assert {m.value: fixture[m.value]["description"] for m in AfipDocType} == {
        80: "CUIT",
        86: "CUIL",
        87: "CDI",
        94: "Pasaporte",
        96: "DNI",
        99: "Doc. (Otro)",
    }
    assert set(AFIP_DOC_TIPO.values()) <= {m.value for m in AfipDocType}


def test_concepts_match_afip() -> None:
    fixture = _fixture("concepttype")
    assert {m.value for m in Concept} == set(fixture) == {1, 2, 3}
    assert (Concept.PRODUCTOS, Concept.SERVICIOS, Concept.AMBOS) == (1, 2, 3)


def test_alic_iva_table_matches_afip_and_the_price_book() -> None:
    fixture = _fixture("vattype")
    for alic, rate in ALIC_IVA_RATES.items():
        assert fixture[alic.value]["description"] == f"{rate}%"
    assert {rate: alic.value for alic, rate in ALIC_IVA_RATES.items()} == dict(AFIP_IVA_RATES)


@pytest.mark.parametrize(
    ("rate", "alic"),
    [
        (Decimal("0"), 3),
        (Decimal("10.5"), 4),
        (Decimal("10.50"), 4),
        (Decimal("21"), 5),
        (Decimal("21.00"), 5),
        (21, 5),
        (Decimal("27"), 6),
        (Decimal("5"), 8),
        (Decimal("2.5"), 9),
        (Decimal("0.00"), 3),
    ],
)
def test_alic_iva_id(rate: Decimal, alic: int) -> None:
    assert alic_iva_id(rate) == alic
    assert isinstance(alic_iva_id(rate), AlicIva)


@pytest.mark.parametrize("rate", [Decimal("19"), Decimal("10"), Decimal("-21"), Decimal("21.01"), Decimal("NaN")])
def test_alic_iva_id_refuses_unknown_rate_naming_it(rate: Decimal) -> None:
    with pytest.raises(ValueError, match=r"alícuota de IVA .* no existe en AFIP") as info:
        alic_iva_id(rate)
    assert str(rate) in str(info.value)
    assert "10,5" in str(info.value)


def test_alic_iva_id_refuses_floats() -> None:
    with pytest.raises(TypeError):
        alic_iva_id(21.0)  # type: ignore[arg-type]


def test_receiver_conditions_match_afip() -> None:
    fixture = _fixture("clientvatcondition")
    assert {m.value for m in CondicionIvaReceptor} == set(fixture)
    for member, description in CONDICION_IVA_RECEPTOR_DESCRIPTIONS.items():
        assert fixture[member.value]["description"] == description


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        (IvaCondition.RESPONSABLE_INSCRIPTO, 1),
        (IvaCondition.MONOTRIBUTISTA, 6),
        (IvaCondition.EXENTO, 4),
        (IvaCondition.CONSUMIDOR_FINAL, 5),
        ("consumidor_final", 5),
    ],
)
def test_receiver_condition_id(condition: IvaCondition, code: int) -> None:
    assert receiver_condition_id(condition) == code


@pytest.mark.parametrize(
    ("condition_id", "letter", "allowed"),
    [
        (1, "A", True),
        (1, "B", False),
        (1, "C", True),
        (6, "A", True),
        (6, "B", False),
        (13, "A", True),
        (16, "A", True),
        (4, "A", False),
        (4, "B", True),
        (4, "C", True),
        # AFIP's own list says "C/49" for consumidor final; Factura B to a consumidor final is everyday.
        (5, "B", True),
        (5, "C", True),
        (5, "A", False),
        (7, "B", True),
        (15, "A", False),
        (2, "B", False),  # no such condition
        (99, "C", False),
    ],
)
def test_receiver_condition_allows(condition_id: int, letter: str, allowed: bool) -> None:
    assert receiver_condition_allows(condition_id, letter) is allowed


def test_every_receiver_condition_has_letters_agreeing_with_afip_except_consumidor_final() -> None:
    fixture = _fixture("clientvatcondition")
    for code, fields in fixture.items():
        afip_letters = {c for c in fields["cmp_clase"].split("/") if c in {"A", "B", "C"}}
        ours = {letter for letter in "ABC" if receiver_condition_allows(code, letter)}
        if code == CondicionIvaReceptor.CONSUMIDOR_FINAL:
            assert ours == afip_letters | {"B"}
        else:
            assert ours == afip_letters
