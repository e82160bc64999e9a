"""Offset and cursor pagination helpers for list endpoints.

Cursor pagination is keyset pagination over ``(sort_value, id)``: stable under inserts, one index
range scan per page. The cursor is opaque to clients (URL-safe base64 of JSON).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.lib.errors import AppError
from shared.errors import ErrorCode

T = TypeVar("T")

MAX_LIMIT = 200


class OffsetParams(msgspec.Struct, frozen=True):
    limit: int = 50
    offset: int = 0


class CursorPosition(msgspec.Struct, array_like=True, frozen=True):
    value: Any
    id: str


def clamp_limit(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    if limit < 1 or limit > MAX_LIMIT:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            f"limit debe estar entre 1 y {MAX_LIMIT}.",
            details=[{"key": "limit", "message": f"between 1 and {MAX_LIMIT}"}],
        )
    return limit


def check_offset(offset: int | None) -> int:
    if offset is None:
        return 0
    if offset < 0:
        raise AppError(ErrorCode.VALIDATION_FAILED, "offset no puede ser negativo.", details=[{"key": "offset"}])
    return offset


def encode_cursor(value: Any, row_id: uuid.UUID) -> str:
    if isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    raw = msgspec.json.encode(CursorPosition(value=value, id=str(row_id)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> CursorPosition:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = msgspec.json.decode(base64.urlsafe_b64decode(padded), type=CursorPosition)
        uuid.UUID(position.id)
    except (binascii.Error, msgspec.DecodeError, ValueError):
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "El cursor de paginación no es válido: pedí la primera página de nuevo.",
            details=[{"key": "cursor"}],
        ) from None
    return position


async def paginate_offset(
    session: AsyncSession, statement: Select[Any], limit: int, offset: int
) -> tuple[Sequence[Any], int]:
    """One page of ``statement`` plus the total count."""
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = (await session.scalars(statement.limit(limit).offset(offset))).all()
    return rows, int(total or 0)


async def paginate_cursor(
    session: AsyncSession,
    statement: Select[Any],
    sort_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
    *,
    descending: bool = False,
    parse_value: Any = None,
) -> tuple[Sequence[Any], str | None]:
    """One page after ``cursor`` ordered by (sort_column, id); returns rows and the next cursor."""
    if cursor:
        position = decode_cursor(cursor)
        value = parse_value(position.value) if parse_value else position.value
        row_id = uuid.UUID(position.id)
        if descending:
            statement = statement.where(or_(sort_column < value, and_(sort_column == value, id_column < row_id)))
        else:
            statement = statement.where(or_(sort_column > value, and_(sort_column == value, id_column > row_id)))
    order = (sort_column.desc(), id_column.desc()) if descending else (sort_column.asc(), id_column.asc())
    rows = (await session.scalars(statement.order_by(*order).limit(limit + 1))).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, sort_column.key), getattr(last, id_column.key))
    return rows, next_cursor
