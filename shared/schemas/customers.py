"""Wire contracts of customers, their addresses and their history."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from shared.fiscal.documents import DocumentType
from shared.fiscal.iva import IvaCondition
from shared.schemas.base import CamelStruct

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
PhoneText = Annotated[str, msgspec.Meta(max_length=40)]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Street = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Address(CamelStruct):
    id: uuid.UUID
    label: str | None
    street: str
    city: str | None
    province: str | None
    postal_code: str | None
    reference: str | None
    zone: str | None
    lat: float | None
    lng: float | None
    is_default: bool


class AddressCreate(CamelStruct):
    street: Street
    label: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    city: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    province: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    postal_code: Annotated[str, msgspec.Meta(max_length=10)] | None = None
    reference: Annotated[str, msgspec.Meta(max_length=300)] | None = None  # "timbre 3B"
    zone: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None
    is_default: bool = False


class AddressUpdate(CamelStruct):
    street: Street | msgspec.UnsetType = msgspec.UNSET
    label: Annotated[str, msgspec.Meta(max_length=80)] | msgspec.UnsetType | None = msgspec.UNSET
    city: Annotated[str, msgspec.Meta(max_length=100)] | msgspec.UnsetType | None = msgspec.UNSET
    province: Annotated[str, msgspec.Meta(max_length=100)] | msgspec.UnsetType | None = msgspec.UNSET
    postal_code: Annotated[str, msgspec.Meta(max_length=10)] | msgspec.UnsetType | None = msgspec.UNSET
    reference: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType | None = msgspec.UNSET
    zone: Annotated[str, msgspec.Meta(max_length=60)] | msgspec.UnsetType | None = msgspec.UNSET
    lat: Latitude | msgspec.UnsetType | None = msgspec.UNSET
    lng: Longitude | msgspec.UnsetType | None = msgspec.UNSET
    is_default: bool | msgspec.UnsetType = msgspec.UNSET


class Customer(CamelStruct):
    id: uuid.UUID
    name: str
    phone: str | None
    other_phones: list[str]
    email: str | None
    doc_type: DocumentType
    doc_number: str | None
    iva_condition: IvaCondition
    notes: str | None
    archived_at: datetime.datetime | None
    addresses: list[Address]
    created_at: datetime.datetime
    updated_at: datetime.datetime


class CustomerCreate(CamelStruct):
    name: Name
    phone: PhoneText | None = None
    other_phones: list[PhoneText] = msgspec.field(default_factory=list)
    email: Email | None = None
    doc_type: DocumentType = DocumentType.NONE
    doc_number: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    iva_condition: IvaCondition | None = None  # None: derived from the document
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    addresses: list[AddressCreate] = msgspec.field(default_factory=list)


class CustomerUpdate(CamelStruct):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    phone: PhoneText | msgspec.UnsetType | None = msgspec.UNSET
    other_phones: list[PhoneText] | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType | None = msgspec.UNSET
    doc_type: DocumentType | msgspec.UnsetType = msgspec.UNSET
    doc_number: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType | None = msgspec.UNSET
    iva_condition: IvaCondition | msgspec.UnsetType = msgspec.UNSET
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | msgspec.UnsetType | None = msgspec.UNSET


class CustomerPage(CamelStruct):
    items: list[Customer]
    total: int
    limit: int
    offset: int


HistoryKind = Literal["job", "invoice", "payment", "message"]


class HistoryEntry(CamelStruct):
    kind: HistoryKind
    id: uuid.UUID
    at: datetime.datetime
    summary: str
    status: str | None = None
    amount: Decimal | None = None
