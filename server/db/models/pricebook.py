from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, Money, OrgOwned, pg_enum, tenant_fk, tenant_key


class PriceBookItemKind(StrEnum):
    SERVICE = "service"
    MATERIAL = "material"


class PriceBookCategory(OrgOwned, Base):
    __tablename__ = "price_book_categories"
    __table_args__ = (
        tenant_key(),
        tenant_fk("parent_id", "price_book_categories", ondelete="SET NULL"),
        UniqueConstraint("org_id", "name", name="uq_price_book_categories_org_name"),
    )

    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[uuid.UUID | None] = mapped_column()
    position: Mapped[int] = mapped_column(Integer, default=0)


class PriceBookItem(OrgOwned, Base):
    __tablename__ = "price_book_items"
    __table_args__ = (
        tenant_key(),
        tenant_fk("category_id", "price_book_categories", ondelete="SET NULL"),
        Index("ix_price_book_items_category", "org_id", "category_id"),
        UniqueConstraint("org_id", "code", name="uq_price_book_items_org_code"),
    )

    category_id: Mapped[uuid.UUID | None] = mapped_column()
    code: Mapped[str] = mapped_column(String(40))  # the org's own item code (SKU)
    kind: Mapped[PriceBookItemKind] = mapped_column(pg_enum(PriceBookItemKind, "price_book_item_kind"))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20), default="unidad")
    base_price: Mapped[Decimal] = mapped_column(Money)
    iva_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("21.00"))
    afip_product_code: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
