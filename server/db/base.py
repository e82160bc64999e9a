"""Model bases: UUIDv7 ids, audit columns, the tenant column and tenant keys, Postgres enums and money."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from advanced_alchemy.base import UUIDv7AuditBase, UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Enum, ForeignKey, ForeignKeyConstraint, Numeric, Table, UniqueConstraint, event
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.schema import Constraint, conv

__all__ = [
    "Base",
    "InsertOnlyBase",
    "Money",
    "OrgOwned",
    "money",
    "pg_enum",
    "tenant_fk",
    "tenant_key",
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
    """Mixin for every org-owned row: ``org_id`` is the tenant key that row-level security checks.

    A reference to another org-owned row is declared with ``tenant_fk(...)`` in ``__table_args__`` (never
    a ``ForeignKey`` on the column), and the referenced table carries ``tenant_key()``.
    """

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            PG_UUID(as_uuid=True),
            ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
            index=False,
        )


Timestamp = DateTimeUTC(timezone=True)


# ---------------------------------------------------------------------------------------------- tenant keys
#
# Foreign keys ignore row-level security: a plain ``customer_id → customers.id`` lets org A's row point at
# org B's customer. So every reference from one org-owned row to another goes through the tenant key:
# the parent has ``UNIQUE (org_id, id)`` (``tenant_key()``) and the child's foreign key is
# ``(org_id, customer_id) → customers (org_id, id)`` (``tenant_fk(...)``), which only matches a parent of
# the child's own organisation. References to ``organizations`` itself (the ``org_id`` column) stay plain.

_C = TypeVar("_C", bound=Constraint)


def _name_when_attached(constraint: _C, template: str) -> _C:
    """Name ``constraint`` from ``template`` (``{table}`` = its table's name) when it joins its table.

    The metadata's naming convention would name a composite key after its first column (``org_id``),
    which says nothing; these names follow the single-column ones: ``fk_<table>_<column>_<parent>``.
    """

    @event.listens_for(constraint, "after_parent_attach")
    def _name(target: Constraint, table: Table) -> None:
        target.name = conv(template.format(table=table.name))

    return constraint


def tenant_key() -> UniqueConstraint:
    """``UNIQUE (org_id, id)`` on an org-owned table that other org-owned rows reference (``tenant_fk``)."""
    return _name_when_attached(UniqueConstraint("org_id", "id"), "uq_{table}_org_id_id")


def tenant_fk(column: str, parent: str, *, ondelete: str) -> ForeignKeyConstraint:
    """``(org_id, column) → parent (org_id, id)``: the referenced row must belong to the same organisation.

    ``ondelete`` is ``CASCADE``, ``RESTRICT``, ``NO ACTION`` or ``SET NULL``; ``SET NULL`` becomes
    PostgreSQL 15+'s ``SET NULL (column)``, which nulls the reference and leaves ``org_id`` alone.
    """
    action = ondelete.upper()
    if action not in {"CASCADE", "RESTRICT", "NO ACTION", "SET NULL"}:
        raise ValueError(f"unsupported ON DELETE action {ondelete!r}")
    if action == "SET NULL":
        action = f"SET NULL ({column})"
    constraint = ForeignKeyConstraint(["org_id", column], [f"{parent}.org_id", f"{parent}.id"], ondelete=action)
    return _name_when_attached(constraint, f"fk_{{table}}_{column}_{parent}")
