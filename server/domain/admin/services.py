"""Dead letters: list, retry (enqueue again with the same function and kwargs) and discard.

Used by the admin HTTP API and by ``campotech queue dead-letters``. Rows are written by the queue
workers (:func:`server.lib.queue.store_dead_letter`); the table is platform-level, not under
row-level security, so plain (tenant-less) sessions read and update it.
"""

from __future__ import annotations

import datetime
import hmac
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from server.db.models.dead_letter import DeadLetterJob, DeadLetterStatus
from server.lib.errors import AppError
from server.lib.logging import get_logger
from shared.errors import ErrorCode

if TYPE_CHECKING:
    from saq.job import Job
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.runtime import Resources

log = get_logger("campotech.admin")

MAX_PAGE_SIZE = 200


def admin_token_matches(expected: str | None, provided: str | None) -> bool:
    """Constant-time comparison; no configured token means no one is an admin."""
    if not expected or not provided:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), provided.encode("utf-8"))


async def list_dead_letters(
    resources: Resources,
    *,
    status: DeadLetterStatus | None = None,
    queue: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DeadLetterJob], int]:
    """One page of dead letters, most recent failure first, and how many match in all."""
    conditions = []
    if status is not None:
        conditions.append(DeadLetterJob.status == status)
    if queue is not None:
        conditions.append(DeadLetterJob.queue == queue)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    offset = max(0, offset)
    async with resources.sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(DeadLetterJob).where(*conditions))
        rows = await session.scalars(
            select(DeadLetterJob)
            .where(*conditions)
            .order_by(DeadLetterJob.failed_at.desc(), DeadLetterJob.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)


async def get_dead_letter(resources: Resources, dead_letter_id: uuid.UUID) -> DeadLetterJob:
    async with resources.sessionmaker() as session:
        row = await session.get(DeadLetterJob, dead_letter_id)
    if row is None:
        raise AppError(ErrorCode.DEAD_LETTER_NOT_FOUND, details={"id": str(dead_letter_id)})
    return row


async def retry_dead_letter(resources: Resources, dead_letter_id: uuid.UUID) -> tuple[DeadLetterJob, Job]:
    """Enqueue the failed task again (a new job, same function and kwargs) and mark the row retried."""
    if resources.queues is None:
        raise AppError(ErrorCode.SERVICE_UNAVAILABLE, details={"reason": "queues not available"})
    async with resources.sessionmaker() as session, session.begin():
        row = await _lock_dead(session, dead_letter_id)
        # Enqueued inside the transaction: if enqueueing fails, the row stays dead.
        job = await resources.queues.enqueue_function(
            row.queue, row.function, dict(row.kwargs or {}), meta={"retry_of": str(row.id)}
        )
        row.status = DeadLetterStatus.RETRIED
        row.resolved_at = datetime.datetime.now(datetime.UTC)
    log.info("dead letter retried", dead_letter_id=str(row.id), task=row.function, queue=row.queue, job_key=job.key)
    return row, job


async def discard_dead_letter(resources: Resources, dead_letter_id: uuid.UUID) -> DeadLetterJob:
    """Mark the failed task as not to be retried."""
    async with resources.sessionmaker() as session, session.begin():
        row = await _lock_dead(session, dead_letter_id)
        row.status = DeadLetterStatus.DISCARDED
        row.resolved_at = datetime.datetime.now(datetime.UTC)
    log.info("dead letter discarded", dead_letter_id=str(row.id), task=row.function, queue=row.queue)
    return row


async def _lock_dead(session: AsyncSession, dead_letter_id: uuid.UUID) -> DeadLetterJob:
    """The row, locked for this transaction; only a dead (unresolved) row may be retried or discarded."""
    row = await session.scalar(select(DeadLetterJob).where(DeadLetterJob.id == dead_letter_id).with_for_update())
    if row is None:
        raise AppError(ErrorCode.DEAD_LETTER_NOT_FOUND, details={"id": str(dead_letter_id)})
    if row.status is not DeadLetterStatus.DEAD:
        raise AppError(
            ErrorCode.CONFLICT,
            f"Esta tarea fallida ya fue resuelta ({row.status.value}).",
            details={"id": str(row.id), "status": row.status.value},
        )
    return row
