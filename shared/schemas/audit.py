"""Wire contracts of the audit log and the activity feed."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from shared.schemas.base import CamelStruct


class AuditEntry(CamelStruct):
    id: uuid.UUID
    seq: int
    action: str
    entity_type: str
    entity_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime.datetime
    hash: str | None


class AuditPage(CamelStruct):
    items: list[AuditEntry]
    next_cursor: str | None = None


class ChainVerification(CamelStruct):
    ok: bool
    checked: int
    broken_entry_id: uuid.UUID | None = None
    broken_seq: int | None = None
    reason: str | None = None


class ActivityItem(CamelStruct):
    """One recent thing that happened in the organisation, for dashboards."""

    id: uuid.UUID
    action: str
    entity_type: str
    entity_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor_name: str | None
    at: datetime.datetime
    summary: dict[str, Any] | None


class ActivityPage(CamelStruct):
    items: list[ActivityItem]
    next_cursor: str | None = None
