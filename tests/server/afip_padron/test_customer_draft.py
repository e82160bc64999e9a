"""The customer a padrón answer suggests (``shared.schemas.padron.customer_draft``): plain rules, no I/O."""

from __future__ import annotations

import msgspec

from shared.fiscal.documents import DocumentType
from shared.fiscal.iva import IvaCondition
from shared.schemas.customers import CustomerCreate
from shared.schemas.padron import PadronAddress, customer_draft

CUIT = "30712345671"


def address(**fields: str | None) -> PadronAddress:
    values: dict[str, str | None] = {
        "street": "AV. SAN JUAN 2450 PISO 3",
        "city": "CIUDAD AUTONOMA BUENOS AIRES",
        "province": "CIUDAD AUTONOMA BUENOS AIRES",
        "postal_code": "1232",
        "one_line": "AV. SAN JUAN 2450 PISO 3, CIUDAD AUTONOMA BUENOS AIRES (1232)",
    }
    return PadronAddress(**{**values, **fields})  # type: ignore[arg-type]


def accepted_by_post_customers(draft: CustomerCreate) -> CustomerCreate:
    """What POST /customers would decode from the draft's JSON (its length and pattern limits included)."""
    return msgspec.json.decode(msgspec.json.encode(draft), type=CustomerCreate)


def test_the_draft_carries_the_cuit_afips_iva_condition_and_the_fiscal_address() -> None:
    draft = accepted_by_post_customers(
        customer_draft(CUIT, "CLIMATIZACION DEL SUR S.A.", IvaCondition.RESPONSABLE_INSCRIPTO, address())
    )
    assert draft.name == "CLIMATIZACION DEL SUR S.A."
    assert (draft.doc_type, draft.doc_number) == (DocumentType.CUIT, CUIT)
    assert draft.iva_condition is IvaCondition.RESPONSABLE_INSCRIPTO
    [fiscal] = draft.addresses
    assert fiscal.street == "AV. SAN JUAN 2450 PISO 3" and fiscal.postal_code == "1232"
    assert fiscal.label == "Domicilio fiscal" and fiscal.is_default


def test_a_person_in_consumidor_final_keeps_that_condition() -> None:
    draft = customer_draft("27334445556", "FERNÁNDEZ MARÍA LAURA", IvaCondition.CONSUMIDOR_FINAL, None)
    assert draft.iva_condition is IvaCondition.CONSUMIDOR_FINAL
    assert draft.addresses == []


def test_no_street_means_no_address_rather_than_an_empty_one() -> None:
    draft = customer_draft(CUIT, "X S.A.", IvaCondition.EXENTO, address(street="   "))
    assert draft.addresses == []


def test_afip_text_longer_than_our_fields_is_cut_to_fit() -> None:
    long = "CALLE " + "MUY LARGA " * 40
    draft = accepted_by_post_customers(
        customer_draft(
            CUIT,
            "RAZON SOCIAL " * 30,
            IvaCondition.RESPONSABLE_INSCRIPTO,
            address(street=long, city="C" * 150, province="P" * 150, postal_code="B1636ABC-XYZ"),
        )
    )
    assert len(draft.name) == 200 and draft.name.startswith("RAZON SOCIAL")
    [fiscal] = draft.addresses
    assert len(fiscal.street) == 200 and fiscal.street.startswith("CALLE MUY LARGA")
    assert fiscal.city is not None and len(fiscal.city) == 100
    assert fiscal.postal_code == "B1636ABC-X"


def test_a_blank_name_falls_back_to_the_cuit() -> None:
    draft = accepted_by_post_customers(customer_draft(CUIT, "  ", IvaCondition.RESPONSABLE_INSCRIPTO, None))
    assert draft.name == CUIT
