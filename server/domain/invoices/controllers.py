"""/invoices: list and filter, drafts by hand, edit a draft, request the CAE, the PDF, AFIP's queue state."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.invoices import documents, services, status
from server.domain.invoices.events import InvoiceCaeRequested
from server.lib.context import resources_of
from server.lib.events import publish_after_commit
from server.lib.pagination import MAX_LIMIT
from server.lib.tracing import trace_id_of
from shared.permissions import Permission
from shared.schemas.invoices import AfipQueueStatus, Invoice, InvoiceCreate, InvoicePage, InvoiceUpdate
from shared.states.invoice import InvoiceStatus

READ = [requires(Permission.INVOICES_READ)]
WRITE = [requires(Permission.INVOICES_WRITE)]
ISSUE = [requires(Permission.INVOICES_ISSUE)]


class InvoiceController(Controller):
    path = "/invoices"
    tags = ["invoices"]

    @get("/", guards=READ, operation_id="ListInvoices", summary="Invoices and notes, newest first, with filters")
    async def list_invoices(
        self,
        db_session: NamedDependency[AsyncSession],
        status_: Annotated[InvoiceStatus | None, QueryParameter(name="status")] = None,
        customer_id: Annotated[uuid.UUID | None, QueryParameter(name="customerId")] = None,
        job_id: Annotated[uuid.UUID | None, QueryParameter(name="jobId")] = None,
        date_from: Annotated[datetime.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime.date | None, QueryParameter(name="to")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> InvoicePage:
        return await services.list_invoices(
            db_session,
            status=status_,
            customer_id=customer_id,
            job_id=job_id,
            date_from=date_from,
            date_to=date_to,
            limit=limit,
            offset=offset,
        )

    @post("/", guards=WRITE, operation_id="CreateInvoice", summary="A draft invoice, credit or debit note by hand")
    async def create_invoice(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[InvoiceCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Invoice:
        return await services.create_invoice(db_session, caller(request), data, trace_id_of(request.scope))

    @get(
        "/afip-status",
        guards=READ,
        operation_id="GetAfipQueueStatus",
        summary="Is AFIP invoicing working for us now, and what is waiting",
    )
    async def afip_status(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> AfipQueueStatus:
        return await status.queue_status(db_session, resources_of(request), caller(request))

    @get("/{invoice_id:uuid}", guards=READ, operation_id="GetInvoice")
    async def get_invoice(self, invoice_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]) -> Invoice:
        return await services.read_invoice(db_session, invoice_id)

    @patch("/{invoice_id:uuid}", guards=WRITE, operation_id="UpdateInvoice", summary="Edit a draft (lines replace all)")
    async def update_invoice(
        self,
        request: Request[Any, Any, Any],
        invoice_id: FromPath[uuid.UUID],
        data: Annotated[InvoiceUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> Invoice:
        return await services.update_invoice(db_session, caller(request), invoice_id, data, trace_id_of(request.scope))

    @post(
        "/{invoice_id:uuid}/cae",
        guards=ISSUE,
        status_code=202,
        operation_id="RequestCae",
        summary="Ask AFIP for the CAE: the draft becomes pending_cae and is issued by the afip queue",
    )
    async def request_cae(
        self,
        request: Request[Any, Any, Any],
        invoice_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Invoice:
        ctx = caller(request)
        invoice = await services.request_cae(db_session, ctx, invoice_id, trace_id_of(request.scope))
        publish_after_commit(
            db_session, InvoiceCaeRequested(org_id=ctx.org_id, invoice_id=invoice.id, actor_id=ctx.user_id)
        )
        return await services.to_wire(db_session, invoice)

    @post(
        "/{invoice_id:uuid}/send",
        guards=WRITE,
        operation_id="MarkInvoiceSent",
        summary="Record that the issued invoice was sent to the customer",
    )
    async def mark_sent(
        self,
        request: Request[Any, Any, Any],
        invoice_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Invoice:
        return await services.mark_sent(db_session, caller(request), invoice_id, trace_id_of(request.scope))

    @get(
        "/{invoice_id:uuid}/pdf",
        guards=READ,
        operation_id="GetInvoicePdf",
        summary="The issued invoice as a PDF (A4, with AFIP's QR); copies=2 or 3 adds DUPLICADO/TRIPLICADO",
        media_type="application/pdf",
    )
    async def get_pdf(
        self,
        request: Request[Any, Any, Any],
        invoice_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        copies: Annotated[int, QueryParameter(ge=1, le=3)] = 1,
    ) -> Response[bytes]:
        ctx = caller(request)
        assert ctx.org_id is not None
        pdf, filename = await documents.invoice_pdf(db_session, resources_of(request), ctx.org_id, invoice_id, copies)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, max-age=300"},
        )


ROUTES = [InvoiceController]
