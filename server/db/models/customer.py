from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Computed, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, pg_enum, tenant_fk, tenant_key
from shared.fiscal.documents import DocumentType
from shared.fiscal.iva import IvaCondition

__all__ = ["FOLD_FROM", "FOLD_TO", "Customer", "CustomerAddress", "DocumentType", "fold_sql"]

# Accent folding for search (pgserver has pg_trgm but not unaccent): lower-case, then translate() the
# accented letters of Spanish (and a few neighbours) to their plain ones; upper-case accented letters are
# listed too, since lower() only folds ASCII under the C collation.
FOLD_FROM = "áàâäãéèêëíìîïóòôöõúùûüñçÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇ"
FOLD_TO = "aaaaaeeeeiiiiooooouuuuncaaaaaeeeeiiiiooooouuuunc"


def fold_sql(expression: str) -> str:
    """``expression`` lower-cased and accent-folded, in SQL (immutable: usable in a generated column)."""
    return f"translate(lower({expression}), '{FOLD_FROM}', '{FOLD_TO}')"


class Customer(OrgOwned, Base):
    __tablename__ = "customers"
    __table_args__ = (
        tenant_key(),
        # one live customer a phone: a second one is refused (409 naming the first), archived ones don't count
        Index(
            "ix_customers_org_phone",
            "org_id",
            "phone",
            unique=True,
            postgresql_where=text("archived_at IS NULL AND phone IS NOT NULL"),
        ),
        Index("ix_customers_org_doc", "org_id", "doc_number"),
        Index("ix_customers_org_change_seq", "org_id", "change_seq"),
        Index(
            "ix_customers_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
        Index(
            "ix_customers_phone_trgm",
            "phone",
            postgresql_using="gin",
            postgresql_ops={"phone": "gin_trgm_ops"},
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    # the name lower-cased and accent-folded, for typo-tolerant search (pg_trgm)
    search_name: Mapped[str] = mapped_column(String(200), Computed(fold_sql("name"), persisted=True))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, the main contact
    other_phones: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    email: Mapped[str | None] = mapped_column(String(254))
    doc_type: Mapped[DocumentType] = mapped_column(pg_enum(DocumentType, "document_type"), default=DocumentType.NONE)
    doc_number: Mapped[str | None] = mapped_column(String(11))
    iva_condition: Mapped[IvaCondition] = mapped_column(
        pg_enum(IvaCondition, "iva_condition"), default=IvaCondition.CONSUMIDOR_FINAL
    )
    notes: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # sync (0010)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)


class CustomerAddress(OrgOwned, Base):
    __tablename__ = "customer_addresses"
    __table_args__ = (
        tenant_key(),
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        Index("ix_customer_addresses_customer", "org_id", "customer_id"),
        Index("ix_customer_addresses_org_change_seq", "org_id", "change_seq"),
        Index(
            "uq_customer_addresses_default",
            "org_id",
            "customer_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column()
    label: Mapped[str | None] = mapped_column(String(80))
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    reference: Mapped[str | None] = mapped_column(String(300))  # "timbre 3B"
    zone: Mapped[str | None] = mapped_column(String(60))  # price list zone
    lat: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    lng: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # sync (0010)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)
