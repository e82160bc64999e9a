"""Wire contracts of the organisation's own settings (business data printed on invoices)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from shared.fiscal.iva import IvaCondition
from shared.schemas.base import CamelStruct

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["08:00"])]


class WorkingDay(CamelStruct):
    weekday: Annotated[int, msgspec.Meta(ge=0, le=6, description="0 = lunes … 6 = domingo")]
    opens: HHMM
    closes: HHMM


class OrganizationSettings(CamelStruct):
    id: uuid.UUID
    name: str  # razón social
    cuit: str
    iva_condition: IvaCondition | None
    gross_income_number: str | None  # Ingresos Brutos
    activity_start_date: datetime.date | None  # inicio de actividades
    address: str | None
    logo_path: str | None
    default_point_of_sale: int | None
    working_hours: list[WorkingDay]
    auto_invoice: bool
    mercadopago_max_installments: int = 12  # most cuotas a payment link offers
    payment_link_days: int = 7  # a payment link expires after this many days


class OrganizationUpdate(CamelStruct):
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    iva_condition: IvaCondition | msgspec.UnsetType | None = msgspec.UNSET
    gross_income_number: Annotated[str, msgspec.Meta(max_length=30)] | msgspec.UnsetType | None = msgspec.UNSET
    activity_start_date: datetime.date | msgspec.UnsetType | None = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(max_length=500)] | msgspec.UnsetType | None = msgspec.UNSET
    logo_path: Annotated[str, msgspec.Meta(max_length=500)] | msgspec.UnsetType | None = msgspec.UNSET
    default_point_of_sale: Annotated[int, msgspec.Meta(ge=1, le=99998)] | msgspec.UnsetType | None = msgspec.UNSET
    working_hours: list[WorkingDay] | msgspec.UnsetType = msgspec.UNSET
    auto_invoice: bool | msgspec.UnsetType = msgspec.UNSET
    mercadopago_max_installments: Annotated[int, msgspec.Meta(ge=1, le=24)] | msgspec.UnsetType = msgspec.UNSET
    payment_link_days: Annotated[int, msgspec.Meta(ge=1, le=60)] | msgspec.UnsetType = msgspec.UNSET
