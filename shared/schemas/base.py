"""Base types for every wire contract: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class CamelStruct(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=False):
    """Base of every request/response type."""


class ErrorBody(CamelStruct):
    code: str
    message: str
    details: Any = None
    trace_id: str | None = None


class OffsetPage(CamelStruct, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class CursorPage(CamelStruct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    limit: int = 50
