"""Model bases: UUIDv7 ids, audit columns, the tenant column, Postgres enums and money."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import StrEnum

from advanced_alchemy.base import UUIDv7AuditBase, UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Enum, ForeignKey, Numeric
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

__all__ = [
    "Base",
    "InsertOnlyBase",
    "Money",
    "OrgOwned",
    "money",
    "pg_enum",
    "utcnow",
]

Base = UUIDv7AuditBase
InsertOnlyBase = UUIDv7Base

# Money: Numeric(14,2) in PostgreSQL, Decimal in Python, never float.
Money = Numeric(14, 2, asdecimal=True)


def money(nullable: bool = False, default: Decimal | None = Decimal("0.00")) -> Mapped[Decimal]:
    return mapped_column(Money, nullable=nullable, default=default, server_default=None)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def pg_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type storing the enum's values (not its member names)."""
    return Enum(
        enum_cls,
        name=name,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


class OrgOwned:
    """Mixin for every org-owned row: ``org_id`` is the tenant key that row-level security checks."""

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            PG_UUID(as_uuid=True),
            ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
            index=False,
        )


Timestamp = DateTimeUTC(timezone=True)
