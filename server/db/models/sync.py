from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, pg_enum
from shared.states import SyncOperationStatus


class SyncOperation(OrgOwned, Base):
    """A queued operation pushed by a device; ``id`` is the client-made operation id (idempotency)."""

    __tablename__ = "sync_operations"

    user_id: Mapped[uuid.UUID | None] = mapped_column()
    device_id: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[uuid.UUID] = mapped_column()
    operation: Mapped[str] = mapped_column(String(60))  # the event, e.g. "complete_job"
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    base_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[SyncOperationStatus] = mapped_column(pg_enum(SyncOperationStatus, "sync_operation_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    applied_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
