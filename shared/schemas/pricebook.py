"""Wire contracts of the price book: categories, items, regional price lists, complexity, price resolution.

Money and multipliers are decimal strings on the wire ("1234.50"), never floats.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated

import msgspec

from shared.pricing import Complexity, ItemKind
from shared.schemas.base import CamelStruct

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
ItemName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
CategoryName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Unit = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Zone = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
AfipCode = Annotated[str, msgspec.Meta(max_length=40)]


class Category(CamelStruct):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    position: int


class CategoryCreate(CamelStruct):
    name: CategoryName
    parent_id: uuid.UUID | None = None
    position: int = 0


class CategoryUpdate(CamelStruct):
    name: CategoryName | msgspec.UnsetType = msgspec.UNSET
    parent_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    position: int | msgspec.UnsetType = msgspec.UNSET


class Item(CamelStruct):
    id: uuid.UUID
    code: str
    kind: ItemKind
    name: str
    unit: str
    base_price: Decimal
    iva_rate: Decimal
    afip_product_code: str | None
    category_id: uuid.UUID | None
    is_active: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ItemCreate(CamelStruct):
    code: Code
    kind: ItemKind
    name: ItemName
    base_price: Decimal
    unit: Unit = "unidad"
    iva_rate: Decimal = Decimal("21")
    afip_product_code: AfipCode | None = None
    category_id: uuid.UUID | None = None
    is_active: bool = True


class ItemUpdate(CamelStruct):
    code: Code | msgspec.UnsetType = msgspec.UNSET
    kind: ItemKind | msgspec.UnsetType = msgspec.UNSET
    name: ItemName | msgspec.UnsetType = msgspec.UNSET
    base_price: Decimal | msgspec.UnsetType = msgspec.UNSET
    unit: Unit | msgspec.UnsetType = msgspec.UNSET
    iva_rate: Decimal | msgspec.UnsetType = msgspec.UNSET
    afip_product_code: AfipCode | msgspec.UnsetType | None = msgspec.UNSET
    category_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class ItemPage(CamelStruct):
    items: list[Item]
    total: int
    limit: int
    offset: int


class ZonePrice(CamelStruct):
    item_id: uuid.UUID
    price: Decimal


class PriceList(CamelStruct):
    id: uuid.UUID
    zone: str
    name: str | None
    multiplier: Decimal
    is_active: bool
    item_prices: list[ZonePrice]


class PriceListCreate(CamelStruct):
    zone: Zone
    name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    multiplier: Decimal = Decimal("1")
    is_active: bool = True
    item_prices: list[ZonePrice] = msgspec.field(default_factory=list)


class PriceListUpdate(CamelStruct):
    zone: Zone | msgspec.UnsetType = msgspec.UNSET
    name: Annotated[str, msgspec.Meta(max_length=120)] | msgspec.UnsetType | None = msgspec.UNSET
    multiplier: Decimal | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    # when given, replaces the zone's item prices (an empty list removes them all)
    item_prices: list[ZonePrice] | msgspec.UnsetType = msgspec.UNSET


class ComplexityMultipliers(CamelStruct):
    normal: Decimal
    dificil: Decimal
    urgente: Decimal


class ComplexityUpdate(CamelStruct):
    normal: Decimal | msgspec.UnsetType = msgspec.UNSET
    dificil: Decimal | msgspec.UnsetType = msgspec.UNSET
    urgente: Decimal | msgspec.UnsetType = msgspec.UNSET


class PriceStep(CamelStruct):
    name: str
    value: Decimal
    result: Decimal


class ResolvedPrice(CamelStruct):
    item_id: uuid.UUID
    code: str
    zone: str | None
    complexity: Complexity
    unit_price: Decimal
    source: str
    iva_rate: Decimal
    breakdown: list[PriceStep]


class ImportLineError(CamelStruct):
    line: int
    column: str | None
    message: str


class ImportResult(CamelStruct):
    created: int
    updated: int
    unchanged: int
    categories_created: int
