"""Queued work of the jobs domain: tell the customer, and draft the invoice of a completed job.

Both run in the job's organisation context (row-level security) and are safe to run twice:
``notify_customer`` sends once per status event, ``create_draft_invoice`` creates at most one
invoice per job.

Notifications go through a *recording* sender for now: each one is appended (JSON) to the Redis list
``notifications_key(org_id)``; the WhatsApp integration replaces the sender, not the task.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from server.db.engine import tenant_transaction
from server.db.models import Customer
from server.db.models.invoice import Invoice
from server.db.models.job import Job
from server.db.models.organization import Organization
from server.domain.invoices.services import draft_from_job
from server.lib.logging import get_logger
from server.lib.tasks import task
from shared.states.job import JobStatus

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.jobs")

SENT_TTL_SECONDS = 30 * 24 * 3600
TEMPLATES: dict[str, str] = {
    JobStatus.EN_CAMINO: "job_en_camino",
    JobStatus.COMPLETED: "job_completed",
}


def notifications_key(org_id: uuid.UUID | str) -> str:
    return f"notifications:sent:{org_id}"


async def recorded_notifications(resources: Resources, org_id: uuid.UUID | str) -> list[dict[str, Any]]:
    """What the recording sender has "sent" for an organisation, oldest first."""
    raw = await resources.redis.lrange(notifications_key(org_id), 0, -1)  # type: ignore[misc]
    return [json.loads(item) for item in raw]


async def _record_notification(resources: Resources, org_id: str, dedupe: str, message: dict[str, Any]) -> bool:
    """Append ``message`` unless the same ``dedupe`` key was sent already; True when it was sent now."""
    first = await resources.redis.set(f"notifications:once:{dedupe}", "1", nx=True, ex=SENT_TTL_SECONDS)
    if not first:
        return False
    await resources.redis.rpush(notifications_key(org_id), json.dumps(message))  # type: ignore[misc]
    return True


def _resources(ctx: Any) -> Resources:
    return ctx["resources"]  # type: ignore[no-any-return]


@task(queue="whatsapp", name="jobs.notify_customer", retries=5, retry_delay=2.0, backoff_max=120, timeout=30)
async def notify_customer(
    ctx: Any, *, org_id: str | None = None, job_id: str, status: str, status_event_id: str
) -> bool:
    """Tell the job's customer their technician is on the way / the job is done (once per move)."""
    resources = _resources(ctx)
    assert org_id is not None
    async with tenant_transaction(resources.sessionmaker, uuid.UUID(org_id)) as session:
        job = await session.get(Job, uuid.UUID(job_id))
        if job is None:
            log.warning("notify_customer: job not found", job_id=job_id)
            return False
        customer = await session.get(Customer, job.customer_id)
    if customer is None or not customer.phone:
        log.info("notify_customer: the customer has no phone", job_id=job_id)
        return False
    message = {
        "orgId": org_id,
        "jobId": job_id,
        "statusEventId": status_event_id,
        "status": status,
        "template": TEMPLATES.get(status, f"job_{status}"),
        "to": customer.phone,
        "customerName": customer.name,
        "jobTitle": job.title,
        "sentAt": datetime.datetime.now(datetime.UTC).isoformat(),
    }
    return await _record_notification(resources, org_id, status_event_id, message)


@task(queue="default", name="jobs.create_draft_invoice", retries=5, retry_delay=1.0, backoff_max=60, timeout=30)
async def create_draft_invoice(ctx: Any, *, org_id: str | None = None, job_id: str) -> str | None:
    """A draft invoice with the completed job's lines; the existing one's id if the job has one already."""
    resources = _resources(ctx)
    assert org_id is not None
    org = uuid.UUID(org_id)
    async with tenant_transaction(resources.sessionmaker, org) as session:
        # the job's row lock serialises two runs for the same job
        job = await session.scalar(select(Job).where(Job.id == uuid.UUID(job_id)).with_for_update())
        if job is None or job.status is not JobStatus.COMPLETED:
            return None
        organization = await session.get(Organization, org)
        if organization is None or not bool((organization.settings or {}).get("auto_invoice", True)):
            existing = await session.scalar(select(Invoice.id).where(Invoice.job_id == job.id).limit(1))
            return str(existing) if existing is not None else None
        invoice = await draft_from_job(session, org, job)
        return str(invoice.id) if invoice is not None else None


TASKS = [notify_customer, create_draft_invoice]

__all__ = ["TASKS", "create_draft_invoice", "notifications_key", "notify_customer", "recorded_notifications"]
