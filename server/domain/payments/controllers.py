"""/payments (manual payments, refunds, disputes, reconciliation), /payments/mercadopago (connect),
/invoices/{id}/payment-link, and the Mercado Pago webhook at /webhooks/mercadopago (outside /api/v1, no
access token: its x-signature is the authentication)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.auth.guards import caller, requires
from server.domain.payments import connection, links, reconcile, services, webhooks
from server.lib.context import resources_of
from server.lib.pagination import MAX_LIMIT
from server.lib.tracing import trace_id_of
from server.runtime import Resources
from shared.permissions import Permission
from shared.schemas import payments as wire
from shared.schemas.base import CamelStruct
from shared.states.payment import PaymentStatus

READ = [requires(Permission.PAYMENTS_READ)]
WRITE = [requires(Permission.PAYMENTS_WRITE)]
INTEGRATIONS = [requires(Permission.SETTINGS_INTEGRATIONS)]
PUBLIC = {"public": True}


class PaymentController(Controller):
    path = "/payments"
    tags = ["payments"]

    @get("/", guards=READ, operation_id="ListPayments", summary="Payments, newest first")
    async def list_payments(
        self,
        db_session: NamedDependency[AsyncSession],
        invoice_id: Annotated[uuid.UUID | None, QueryParameter(name="invoiceId")] = None,
        status_: Annotated[PaymentStatus | None, QueryParameter(name="status")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> wire.PaymentPage:
        return await services.list_payments(
            db_session, invoice_id=invoice_id, status=status_, limit=limit, offset=offset
        )

    @post("/", guards=WRITE, operation_id="RecordPayment", summary="A payment by hand: cash, transfer or cheque")
    async def record_payment(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[wire.ManualPaymentCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> wire.Payment:
        return await services.record_manual_payment(db_session, caller(request), data, trace_id_of(request.scope))

    @get("/{payment_id:uuid}", guards=READ, operation_id="GetPayment")
    async def get_payment(
        self, payment_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> wire.Payment:
        return await services.payment_wire(db_session, await services.get_payment(db_session, payment_id))

    @post(
        "/{payment_id:uuid}/refunds",
        guards=WRITE,
        operation_id="RefundPayment",
        summary="Refund all (no amount) or part of a payment: through Mercado Pago, or recorded for manual ones",
    )
    async def refund(
        self,
        request: Request[Any, Any, Any],
        payment_id: FromPath[uuid.UUID],
        data: Annotated[wire.RefundCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> wire.Payment:
        return await services.refund_payment(db_session, resources_of(request), caller(request), payment_id, data)

    @post("/{payment_id:uuid}/disputes", guards=WRITE, operation_id="OpenDispute", summary="Record a claim")
    async def open_dispute(
        self,
        request: Request[Any, Any, Any],
        payment_id: FromPath[uuid.UUID],
        data: Annotated[wire.DisputeCreate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> wire.Dispute:
        return await services.open_dispute(db_session, caller(request), payment_id, data)

    @get("/disputes", guards=READ, operation_id="ListDisputes", summary="Chargebacks and claims, newest first")
    async def list_disputes(
        self,
        db_session: NamedDependency[AsyncSession],
        payment_id: Annotated[uuid.UUID | None, QueryParameter(name="paymentId")] = None,
    ) -> list[wire.Dispute]:
        return await services.list_disputes(db_session, payment_id)

    @patch(
        "/disputes/{dispute_id:uuid}",
        guards=WRITE,
        operation_id="UpdateDispute",
        summary="Evidence notes, documentation sent, won or lost",
    )
    async def update_dispute(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Annotated[wire.DisputeUpdate, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> wire.Dispute:
        return await services.update_dispute(db_session, caller(request), dispute_id, data)

    @get(
        "/installments",
        guards=READ,
        operation_id="GetInstallments",
        summary="Cuotas Mercado Pago offers for an amount, with CFT and TEA",
    )
    async def installments(
        self,
        request: Request[Any, Any, Any],
        amount: Annotated[Decimal, QueryParameter(name="amount")],
        payment_method_id: Annotated[str | None, QueryParameter(name="paymentMethodId", max_length=40)] = None,
        issuer_id: Annotated[str | None, QueryParameter(name="issuerId", max_length=40)] = None,
    ) -> wire.Installments:
        ctx = caller(request)
        assert ctx.org_id is not None
        return await links.installments(resources_of(request), ctx.org_id, amount, payment_method_id, issuer_id)

    @post(
        "/reconcile",
        guards=WRITE,
        status_code=200,
        operation_id="ReconcilePayments",
        summary="Compare Mercado Pago's payments of the last days with ours now",
    )
    async def reconcile_now(self, request: Request[Any, Any, Any]) -> wire.ReconciliationReport:
        ctx = caller(request)
        assert ctx.org_id is not None
        return await reconcile.reconcile_org(resources_of(request), ctx.org_id)

    @get("/discrepancies", guards=READ, operation_id="ListDiscrepancies", summary="What reconciliation found")
    async def discrepancies(
        self,
        db_session: NamedDependency[AsyncSession],
        open_only: Annotated[bool, QueryParameter(name="open")] = True,
        kind: Annotated[wire.DiscrepancyKind | None, QueryParameter(name="kind")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> wire.DiscrepancyPage:
        from server.db.models import DiscrepancyKind

        return await services.list_discrepancies(
            db_session,
            open_only=open_only,
            kind=DiscrepancyKind(kind.value) if kind else None,
            limit=limit,
            offset=offset,
        )

    @post(
        "/discrepancies/{discrepancy_id:uuid}/resolve",
        guards=WRITE,
        status_code=200,
        operation_id="ResolveDiscrepancy",
    )
    async def resolve(
        self,
        request: Request[Any, Any, Any],
        discrepancy_id: FromPath[uuid.UUID],
        data: Annotated[wire.DiscrepancyResolve, Body()],
        db_session: NamedDependency[AsyncSession],
    ) -> wire.Discrepancy:
        return await services.resolve_discrepancy(db_session, caller(request), discrepancy_id, data.note)


class MercadoPagoController(Controller):
    path = "/payments/mercadopago"
    tags = ["payments"]

    @get("/", guards=READ, operation_id="GetMercadoPagoConnection", summary="Is a Mercado Pago account connected")
    async def status(self, request: Request[Any, Any, Any]) -> wire.MercadoPagoConnection:
        ctx = caller(request)
        assert ctx.org_id is not None
        return await connection.connection_status(resources_of(request), ctx.org_id)

    @get(
        "/connect",
        guards=INTEGRATIONS,
        operation_id="ConnectMercadoPago",
        summary="Where to send the owner to authorise CampoTech in Mercado Pago",
    )
    async def connect(self, request: Request[Any, Any, Any]) -> wire.AuthorizationUrl:
        ctx = caller(request)
        assert ctx.org_id is not None
        return await connection.start_connect(resources_of(request), ctx.org_id, ctx.user_id)

    @get(
        "/callback",
        opt=PUBLIC,
        operation_id="MercadoPagoCallback",
        summary="Mercado Pago sends the owner back here with code and state",
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        code: Annotated[str | None, QueryParameter(name="code", max_length=500)] = None,
        oauth_state: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
    ) -> wire.MercadoPagoConnection:
        return await connection.finish_connect(resources_of(request), code, oauth_state)

    @delete("/", guards=INTEGRATIONS, status_code=200, operation_id="DisconnectMercadoPago")
    async def disconnect(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> wire.MercadoPagoConnection:
        ctx = caller(request)
        assert ctx.org_id is not None
        return await connection.disconnect(db_session, ctx.org_id, ctx.user_id)


class PaymentLinkController(Controller):
    path = "/invoices/{invoice_id:uuid}/payment-link"
    tags = ["payments"]

    @post("/", guards=WRITE, operation_id="CreatePaymentLink", summary="A Mercado Pago link for what is owed")
    async def create(
        self,
        request: Request[Any, Any, Any],
        invoice_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> wire.PaymentLink:
        return await links.create_link(
            db_session, resources_of(request), caller(request), invoice_id, trace_id_of(request.scope)
        )

    @get("/", guards=READ, operation_id="GetPaymentLink", summary="The invoice's latest link")
    async def current(
        self, invoice_id: FromPath[uuid.UUID], db_session: NamedDependency[AsyncSession]
    ) -> wire.PaymentLink:
        return await links.current_link(db_session, invoice_id)


class WebhookAck(CamelStruct):
    received: bool
    deliveries: int | None = None


@post(
    connection.WEBHOOK_PATH,
    opt=PUBLIC,
    status_code=200,
    tags=["payments"],
    operation_id="MercadoPagoWebhook",
    summary="Mercado Pago notifications (x-signature checked; processed on the payments queue)",
)
async def mercadopago_webhook(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    resources: NamedDependency[Resources],
) -> Response[WebhookAck]:
    raw = await request.body()
    query = {key: str(value) for key, value in request.query_params.items()}
    accepted = await webhooks.accept(db_session, resources, query, request.headers, raw)
    return Response(WebhookAck(received=True, deliveries=accepted.deliveries), status_code=200)


ROUTES = [PaymentController, MercadoPagoController, PaymentLinkController]
WEBHOOK_ROUTES = [mercadopago_webhook]
TASKS = [webhooks.process_webhook, *reconcile.TASKS]
