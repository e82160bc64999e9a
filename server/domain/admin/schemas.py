"""Wire types of the admin API (camelCase on the wire)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from server.db.models.dead_letter import DeadLetterJob, DeadLetterStatus
from server.lib.redaction import redact
from shared.schemas.base import CamelStruct


class DeadLetterOut(CamelStruct):
    """A queued task that exhausted its attempts. ``kwargs`` are shown redacted; a retry uses the stored ones."""

    id: uuid.UUID
    queue: str
    function: str
    job_key: str
    org_id: uuid.UUID | None
    kwargs: dict[str, Any]
    error: str | None
    attempts: int
    status: DeadLetterStatus
    failed_at: datetime.datetime
    resolved_at: datetime.datetime | None

    @classmethod
    def of(cls, row: DeadLetterJob) -> DeadLetterOut:
        return cls(
            id=row.id,
            queue=row.queue,
            function=row.function,
            job_key=row.job_key,
            org_id=row.org_id,
            kwargs=redact(dict(row.kwargs or {})),
            error=row.error,
            attempts=row.attempts,
            status=row.status,
            failed_at=row.failed_at,
            resolved_at=row.resolved_at,
        )


class DeadLetterPage(CamelStruct):
    items: list[DeadLetterOut]
    total: int
    limit: int
    offset: int


class DeadLetterRetried(CamelStruct):
    dead_letter: DeadLetterOut
    job_key: str
