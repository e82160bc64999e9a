from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, Money, OrgOwned, pg_enum, tenant_fk, tenant_key
from shared.pricing import Complexity, ItemKind

PriceBookItemKind = ItemKind

# Multipliers (zone, complexity): up to 99.9999
Multiplier = Numeric(6, 4, asdecimal=True)


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
        Index("ix_price_book_items_org_change_seq", "org_id", "change_seq"),
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
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # sync (0010)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)


class PriceList(OrgOwned, Base):
    """A regional price list: one a zone (the zone named on a customer's address), with a multiplier for
    the whole zone and, in ``price_list_items``, the zone's own price for some items."""

    __tablename__ = "price_lists"
    __table_args__ = (
        tenant_key(),
        UniqueConstraint("org_id", "zone", name="uq_price_lists_org_zone"),
    )

    zone: Mapped[str] = mapped_column(String(60))
    name: Mapped[str | None] = mapped_column(String(120))
    multiplier: Mapped[Decimal] = mapped_column(Multiplier, default=Decimal("1"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class PriceListItem(OrgOwned, Base):
    """The zone's own unit price for one item (wins over base × the zone's multiplier)."""

    __tablename__ = "price_list_items"
    __table_args__ = (
        tenant_fk("price_list_id", "price_lists", ondelete="CASCADE"),
        tenant_fk("item_id", "price_book_items", ondelete="CASCADE"),
        UniqueConstraint("org_id", "price_list_id", "item_id", name="uq_price_list_items_org_list_item"),
        Index("ix_price_list_items_item", "org_id", "item_id"),
    )

    price_list_id: Mapped[uuid.UUID] = mapped_column()
    item_id: Mapped[uuid.UUID] = mapped_column()
    price: Mapped[Decimal] = mapped_column(Money)


class ComplexityMultiplier(OrgOwned, Base):
    """The org's multiplier for a complexity level; a level without a row uses the default."""

    __tablename__ = "complexity_multipliers"
    __table_args__ = (UniqueConstraint("org_id", "level", name="uq_complexity_multipliers_org_level"),)

    level: Mapped[Complexity] = mapped_column(pg_enum(Complexity, "complexity_level"))
    multiplier: Mapped[Decimal] = mapped_column(Multiplier)
