"""Job domain events and their subscriber: side effects of a status move are queued, never run inline.

``JobStatusChanged`` is published after the move's transaction commits. ``register(resources)``
subscribes ``queue_side_effects`` on the process's event bus (idempotent; call it once at start-up):

- en camino and completed → ``notify_customer`` (queue ``whatsapp``);
- completed, with billable lines and the organisation's ``auto_invoice`` setting on (default) →
  ``create_draft_invoice`` (queue ``default``), idempotent per job.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, ClassVar

from server.lib.events import DomainEvent
from server.lib.logging import get_logger
from shared.states.job import JobEvent, JobStatus

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.jobs")

NOTIFY_STATUSES = frozenset({JobStatus.EN_CAMINO, JobStatus.COMPLETED})
REGISTERED_KEY = "jobs.events.registered"


class JobStatusChanged(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "job.status_changed"
    job_id: uuid.UUID
    customer_id: uuid.UUID
    from_status: JobStatus
    to_status: JobStatus
    event: JobEvent
    actor_id: uuid.UUID | None
    status_event_id: uuid.UUID
    billable: bool = False  # the job had lines when it moved (only computed on completion)
    auto_invoice: bool = True  # the organisation's setting when it moved


async def queue_side_effects(resources: Resources, event: JobStatusChanged) -> None:
    from server.domain.jobs.tasks import create_draft_invoice, notify_customer

    queues = resources.queues
    if queues is None:  # no queues in this process (a script): nothing can run later
        log.warning("job side effects not queued: no queues", job_id=str(event.job_id), to=str(event.to_status))
        return
    if event.to_status in NOTIFY_STATUSES:
        await queues.enqueue(
            notify_customer,
            org_id=event.org_id,
            job_key=f"jobs:notify:{event.status_event_id}",
            job_id=str(event.job_id),
            status=str(event.to_status),
            status_event_id=str(event.status_event_id),
        )
    if event.to_status is JobStatus.COMPLETED and event.billable and event.auto_invoice:
        await queues.enqueue(
            create_draft_invoice,
            org_id=event.org_id,
            job_key=f"jobs:invoice:{event.job_id}",
            job_id=str(event.job_id),
        )


def register(resources: Resources) -> None:
    """Subscribe the jobs domain's handlers on ``resources.events`` (once per Resources)."""
    if resources.extras.get(REGISTERED_KEY):
        return

    async def on_status_changed(event: JobStatusChanged) -> None:
        await queue_side_effects(resources, event)

    resources.events.subscribe(JobStatusChanged, on_status_changed)
    resources.extras[REGISTERED_KEY] = True


__all__ = ["NOTIFY_STATUSES", "JobStatusChanged", "queue_side_effects", "register"]
