"""Wire contracts of AFIP padrón A5 lookups: a CUIT's public registry data and a customer ready to create.

``PadronPerson.customer_draft`` is a ``CustomerCreate`` the client can send to ``POST /customers`` as it
is (adding a phone, notes, …): name, document (CUIT), IVA condition and the fiscal address.
"""

from __future__ import annotations

import datetime
from enum import StrEnum

from shared.fiscal.documents import DocumentType
from shared.fiscal.iva import IvaCondition
from shared.schemas.base import CamelStruct
from shared.schemas.customers import AddressCreate, CustomerCreate


class PadronPersonKind(StrEnum):
    PERSON = "person"  # persona física
    COMPANY = "company"  # persona jurídica


PERSON_KIND_LABELS: dict[PadronPersonKind, str] = {
    PadronPersonKind.PERSON: "Persona física",
    PadronPersonKind.COMPANY: "Persona jurídica",
}


class PadronAddress(CamelStruct):
    """The fiscal address (domicilio fiscal) as AFIP has it."""

    street: str
    city: str | None
    province: str | None
    postal_code: str | None
    one_line: str  # "AV. SAN JUAN 2450, CIUDAD AUTONOMA BUENOS AIRES (1232)"


class PadronActivity(CamelStruct):
    id: int  # AFIP's activity code (nomenclador F-883)
    description: str


class PadronPerson(CamelStruct):
    cuit: str  # 11 digits
    name: str  # razón social, or "APELLIDO NOMBRE" of a person
    kind: PadronPersonKind
    kind_label: str  # "Persona física" / "Persona jurídica"
    address: PadronAddress | None
    iva_condition: IvaCondition
    activities: list[PadronActivity]
    active: bool  # the CUIT is ACTIVO at AFIP
    checked_at: datetime.datetime  # when AFIP answered (answers are reused for 24 h)
    customer_draft: CustomerCreate


FISCAL_ADDRESS_LABEL = "Domicilio fiscal"
# the limits of CustomerCreate / AddressCreate (shared/schemas/customers.py): AFIP's text is cut to fit
NAME_MAX, STREET_MAX, CITY_MAX, PROVINCE_MAX, POSTAL_CODE_MAX = 200, 200, 100, 100, 10


def kind_label(kind: PadronPersonKind) -> str:
    return PERSON_KIND_LABELS[kind]


def _fit(text: str | None, limit: int) -> str | None:
    cleaned = (text or "").strip()
    return cleaned[:limit] or None


def customer_draft(cuit: str, name: str, iva_condition: IvaCondition, address: PadronAddress | None) -> CustomerCreate:
    """A customer as the padrón describes it: CUIT document, AFIP's IVA condition, the fiscal address.

    ``cuit`` must already be valid (11 digits). Without a street AFIP gave no usable address, and the
    draft has none (the user adds where the work is done).
    """
    addresses: list[AddressCreate] = []
    street = _fit(address.street, STREET_MAX) if address is not None else None
    if address is not None and street:
        addresses.append(
            AddressCreate(
                street=street,
                label=FISCAL_ADDRESS_LABEL,
                city=_fit(address.city, CITY_MAX),
                province=_fit(address.province, PROVINCE_MAX),
                postal_code=_fit(address.postal_code, POSTAL_CODE_MAX),
                is_default=True,
            )
        )
    return CustomerCreate(
        name=_fit(name, NAME_MAX) or cuit,
        doc_type=DocumentType.CUIT,
        doc_number=cuit,
        iva_condition=iva_condition,
        addresses=addresses,
    )
