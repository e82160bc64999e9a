"""Invoice domain events; a CAE request is queued on the ``afip`` queue only after its transaction commits."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, ClassVar

from server.lib.events import DomainEvent
from server.lib.logging import get_logger

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.invoices")

REGISTERED_KEY = "invoices.events.registered"


class InvoiceCaeRequested(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "invoice.cae_requested"
    invoice_id: uuid.UUID
    actor_id: uuid.UUID | None = None


async def queue_issuance(resources: Resources, event: InvoiceCaeRequested) -> None:
    from server.domain.invoices.issuing import issue_invoice, issue_job_key

    if resources.queues is None:
        log.warning("invoice issuance not queued: no queues", invoice=str(event.invoice_id))
        return
    await resources.queues.enqueue(
        issue_invoice,
        org_id=event.org_id,
        job_key=issue_job_key(event.invoice_id),
        invoice_id=str(event.invoice_id),
    )


def register(resources: Resources) -> None:
    if resources.extras.get(REGISTERED_KEY):
        return

    async def on_cae_requested(event: InvoiceCaeRequested) -> None:
        await queue_issuance(resources, event)

    resources.events.subscribe(InvoiceCaeRequested, on_cae_requested)
    resources.extras[REGISTERED_KEY] = True


__all__ = ["InvoiceCaeRequested", "queue_issuance", "register"]
