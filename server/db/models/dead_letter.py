from __future__ import annotations

import datetime
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, Timestamp, pg_enum


class DeadLetterStatus(StrEnum):
    DEAD = "dead"
    RETRIED = "retried"
    DISCARDED = "discarded"


class DeadLetterJob(Base):
    """A queued task that exhausted its retries, kept for a person to retry or discard.

    Platform-level (operators see every organisation's), so not under row-level security; the
    organisation it belonged to is recorded in ``org_id`` when the task had one.
    """

    __tablename__ = "dead_letter_jobs"
    __table_args__ = (Index("ix_dead_letter_jobs_status", "status", "failed_at"),)

    queue: Mapped[str] = mapped_column(String(40))
    function: Mapped[str] = mapped_column(String(120))
    job_key: Mapped[str] = mapped_column(String(120))
    org_id: Mapped[uuid.UUID | None] = mapped_column()
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[DeadLetterStatus] = mapped_column(
        pg_enum(DeadLetterStatus, "dead_letter_status"), default=DeadLetterStatus.DEAD
    )
    failed_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
