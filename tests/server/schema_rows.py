"""Rows for any table, made from the models: the RLS and tenant-key tests seed every table with these."""

from __future__ import annotations

import datetime
import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Column


def column_value(column: Column[Any], org_id: uuid.UUID, parents: dict[str, uuid.UUID]) -> Any:
    """A valid value for a required column without a default (unique where it matters); foreign keys
    point at ``parents[table name]`` and ``org_id`` is the tenant."""
    if column.name == "org_id":
        return org_id
    for fk in column.foreign_keys:
        return parents[fk.column.table.name]
    python_type = column.type.python_type
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return column.type.enums[0]  # type: ignore[attr-defined]
    length = getattr(column.type, "length", None) or 32
    by_type: dict[type, Any] = {
        str: ("t" + uuid.uuid4().hex)[:length],
        int: 1,
        Decimal: Decimal("1"),
        bool: True,
        datetime.datetime: datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1),
        datetime.date: datetime.date.today(),
        uuid.UUID: uuid.uuid4(),
        dict: {},
        list: [],
    }
    return by_type[python_type]
