"""What the client reads and sends on the sync endpoints (pull, bootstrap, push).

Decoded leniently (unknown fields ignored; synced records kept as the server's JSON text, decoded by the
store, ``client.store.records``): the server's own Structs live in
``shared/schemas/sync.py``; the client only needs these fields, so a field added there never breaks
an installed phone.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.schemas.base import CamelStruct
from shared.schemas.sync import (
    MAX_PUSH_OPERATIONS,
    OP_JOB_COMPLETE,
    OP_JOB_NOTE,
    OP_JOB_PROGRESS,
    OP_JOB_TRANSITION,
    SYNC_TABLES,
)

__all__ = [
    "MAX_PUSH_OPERATIONS",
    "OP_JOB_COMPLETE",
    "OP_JOB_NOTE",
    "OP_JOB_PROGRESS",
    "OP_JOB_TRANSITION",
    "SYNC_TABLES",
    "BootstrapPage",
    "OpResult",
    "PullPage",
    "PushOperation",
    "PushRequest",
    "PushResponse",
    "TableChanges",
]


class TableChanges(CamelStruct):
    upserts: list[msgspec.Raw] = msgspec.field(default_factory=list)  # kept as JSON: decoded by the store
    deletes: list[str] = msgspec.field(default_factory=list)


class PullPage(CamelStruct):
    cursor: str | None = None
    has_more: bool = False
    reset: bool = False
    tables: dict[str, TableChanges] = msgspec.field(default_factory=dict)


class BootstrapPage(CamelStruct):
    table: str | None = None
    records: list[msgspec.Raw] = msgspec.field(default_factory=list)  # kept as JSON: decoded by the store
    next_after: str | None = None  # the ``after`` of the next page; None when the table is done
    has_more: bool = False
    cursor: str | None = None  # send back on further bootstrap calls; pull from it when all tables are done


class PushOperation(CamelStruct):
    op_id: str
    entity: str
    entity_id: str
    op: str
    base_version: int | None
    payload: dict[str, Any]
    created_at: str


class PushRequest(CamelStruct):
    device_id: str
    operations: list[PushOperation]


class OpResult(CamelStruct):
    op_id: str
    status: str  # applied | merged | rejected | duplicate
    code: str | None = None
    message: str | None = None
    record: dict[str, Any] | None = None
    conflict: dict[str, Any] | None = None


class PushResponse(CamelStruct):
    results: list[OpResult] = msgspec.field(default_factory=list)
    cursor: str | None = None
