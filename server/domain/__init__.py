"""One package a domain; each exposes ``ROUTES`` (and ``TASKS`` when it queues work).

``ROUTES_BY_DOMAIN`` are served at the root (health, metrics); ``API_ROUTES_BY_DOMAIN`` under
``/api/v1``. A new domain adds one line here.
"""

from __future__ import annotations

from typing import Any

from server.domain.admin.controllers import ROUTES as ADMIN_ROUTES
from server.domain.afip_credentials.controllers import ROUTES as AFIP_CREDENTIAL_ROUTES
from server.domain.afip_padron.controllers import ROUTES as AFIP_PADRON_ROUTES
from server.domain.audit.controllers import ROUTES as AUDIT_ROUTES
from server.domain.auth.controllers import ROUTES as AUTH_ROUTES
from server.domain.customers.controllers import ROUTES as CUSTOMER_ROUTES
from server.domain.dispatch.controllers import ROUTES as DISPATCH_ROUTES
from server.domain.invoices.controllers import ROUTES as INVOICE_ROUTES
from server.domain.invoices.issuing import TASKS as INVOICE_TASKS
from server.domain.jobs.attachment_controllers import ROUTES as JOB_ATTACHMENT_ROUTES
from server.domain.jobs.controllers import ROUTES as JOB_ROUTES
from server.domain.jobs.tasks import TASKS as JOB_TASKS
from server.domain.organizations.controllers import ROUTES as ORGANIZATION_ROUTES
from server.domain.payments.controllers import ROUTES as PAYMENT_ROUTES
from server.domain.payments.controllers import TASKS as PAYMENT_TASKS
from server.domain.payments.controllers import WEBHOOK_ROUTES as PAYMENT_WEBHOOK_ROUTES
from server.domain.pricebook.controllers import ROUTES as PRICEBOOK_ROUTES
from server.domain.sync.controllers import ROUTES as SYNC_ROUTES
from server.domain.sync.tasks import TASKS as SYNC_TASKS
from server.domain.system.controllers import ROUTES as SYSTEM_ROUTES
from server.domain.users.controllers import ROUTES as USER_ROUTES

ROUTES_BY_DOMAIN: dict[str, list[Any]] = {
    "system": SYSTEM_ROUTES,
    "payment_webhooks": PAYMENT_WEBHOOK_ROUTES,
}

API_ROUTES_BY_DOMAIN: dict[str, list[Any]] = {
    "admin": ADMIN_ROUTES,
    "auth": AUTH_ROUTES,
    "users": USER_ROUTES,
    "organizations": ORGANIZATION_ROUTES,
    "customers": CUSTOMER_ROUTES,
    "pricebook": PRICEBOOK_ROUTES,
    "jobs": JOB_ROUTES,
    "job_attachments": JOB_ATTACHMENT_ROUTES,
    "dispatch": DISPATCH_ROUTES,
    "sync": SYNC_ROUTES,
    "audit": AUDIT_ROUTES,
    "invoices": INVOICE_ROUTES,
    "afip_credentials": AFIP_CREDENTIAL_ROUTES,
    "payments": PAYMENT_ROUTES,
    "afip_padron": AFIP_PADRON_ROUTES,
}

TASKS_BY_DOMAIN: dict[str, list[Any]] = {
    "jobs": JOB_TASKS,
    "invoices": INVOICE_TASKS,
    "payments": PAYMENT_TASKS,
    "sync": SYNC_TASKS,
}


def register_event_handlers(resources: Any) -> None:
    """Subscribe every domain's handlers to the app's event bus (idempotent; called at start-up)."""
    from server.domain.invoices.events import register as register_invoice_events
    from server.domain.jobs.events import register as register_job_events

    register_job_events(resources)
    register_invoice_events(resources)
