"""Invoices: drafts (by hand or from a completed job), edits, CAE requests, reading and listing.

The fiscal rules (letter, receipt type, receiver document, concept, totals with AFIP's rounding) are
pure functions in ``shared.fiscal``; this module applies them to stored rows. Issuing itself (talking to
AFIP) happens in the ``afip`` queue (``server.domain.invoices.issuing``), never inside a request.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import Customer, Invoice, InvoiceLine, Job, JobLine, Organization, PriceBookItem
from server.domain.audit.services import record, record_by
from server.domain.invoices.pdf import format_receipt_number
from server.lib.context import RequestContext
from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.fiscal import invoicing
from shared.fiscal.afip_codes import Concept
from shared.fiscal.invoicing import ARGENTINA
from shared.fiscal.iva import IvaCondition
from shared.fiscal.tax import InvalidLine, InvoiceTotals, TaxLine, check_line, compute_totals
from shared.pricing import DEFAULT_IVA_RATE
from shared.schemas import invoices as wire
from shared.states.invoice import INVOICE_MACHINE, InvoiceStatus

MAX_QUANTITY = Decimal("999999999.999")
MAX_PRICE = Decimal("9999999999999.99")


def display_number(point_of_sale: int | None, number: int | None) -> str | None:
    """AFIP's printed form: point of sale on 4 (or 5) digits, number on 8: ``0001-00000123``."""
    if point_of_sale is None or number is None:
        return None
    return format_receipt_number(point_of_sale, number)


# -- reading --------------------------------------------------------------------------------------


def _line_wire(line: InvoiceLine) -> wire.InvoiceLine:
    return wire.InvoiceLine(
        id=line.id,
        position=line.position,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount=line.discount,
        iva_rate=line.iva_rate,
        net_amount=line.net_amount,
        iva_amount=line.iva_amount,
        total_amount=line.total_amount,
        pricebook_item_id=line.pricebook_item_id,
    )


def _messages(invoice: Invoice) -> list[wire.AfipMessage]:
    out = []
    for item in invoice.afip_messages or []:
        try:
            out.append(
                wire.AfipMessage(code=int(item["code"]), message=str(item["message"]), kind=item.get("kind", "error"))
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _vat(lines: Sequence[InvoiceLine], letter: str | None) -> list[wire.VatLine]:
    totals = totals_of(lines, letter)
    return [wire.VatLine(rate=v.rate, base=v.base, amount=v.amount) for v in totals.vat]


async def lines_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
        )
    )


async def get_invoice(session: AsyncSession, invoice_id: uuid.UUID, *, lock: bool = False) -> Invoice:
    statement = select(Invoice).where(Invoice.id == invoice_id)
    if lock:
        statement = statement.with_for_update()
    invoice = await session.scalar(statement)
    if invoice is None:
        raise AppError(ErrorCode.INVOICE_NOT_FOUND)
    return invoice


async def to_wire(session: AsyncSession, invoice: Invoice, lines: Sequence[InvoiceLine] | None = None) -> wire.Invoice:
    """The invoice on the wire; ``lines`` when the caller already holds them (in order), else read."""
    if lines is None:
        lines = await lines_of(session, invoice.id)
    customer_name = await session.scalar(select(Customer.name).where(Customer.id == invoice.customer_id)) or ""
    letter = invoice.letter.value if invoice.letter is not None else None
    return wire.Invoice(
        id=invoice.id,
        status=InvoiceStatus(invoice.status),
        kind=wire.InvoiceKind(invoice.kind),
        customer_id=invoice.customer_id,
        customer_name=customer_name,
        lines=[_line_wire(line) for line in lines],
        net_amount=invoice.net_amount,
        iva_amount=invoice.iva_amount,
        total_amount=invoice.total_amount,
        paid_amount=invoice.paid_amount,
        balance=invoice.total_amount - invoice.paid_amount,
        vat=_vat(lines, letter),
        letter=letter,
        receipt_type=invoice.receipt_type,
        point_of_sale=invoice.point_of_sale,
        number=invoice.number if invoice.cae else None,
        display_number=display_number(invoice.point_of_sale, invoice.number) if invoice.cae else None,
        issue_date=invoice.issue_date,
        concept=invoice.concept,
        service_from=invoice.service_from,
        service_to=invoice.service_to,
        payment_due=invoice.payment_due,
        doc_type=invoice.doc_type,
        doc_number=invoice.doc_number,
        receiver_iva_condition_id=invoice.receiver_iva_condition_id,
        cae=invoice.cae,
        cae_due_date=invoice.cae_due_date,
        afip_messages=_messages(invoice),
        job_id=invoice.job_id,
        associated_invoice_id=invoice.associated_invoice_id,
        issued_at=invoice.issued_at,
        created_at=invoice.created_at,
        pdf_url=f"/api/v1/invoices/{invoice.id}/pdf" if invoice.cae else None,
    )


async def read_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> wire.Invoice:
    return await to_wire(session, await get_invoice(session, invoice_id))


async def list_invoices(
    session: AsyncSession,
    *,
    status: InvoiceStatus | None = None,
    customer_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> wire.InvoicePage:
    conditions: list[Any] = []
    if status is not None:
        conditions.append(Invoice.status == status)
    if customer_id is not None:
        conditions.append(Invoice.customer_id == customer_id)
    if job_id is not None:
        conditions.append(Invoice.job_id == job_id)
    # issued invoices by their fiscal date; drafts by when they were made
    day = func.coalesce(
        Invoice.issue_date, func.date(func.timezone("America/Argentina/Buenos_Aires", Invoice.created_at))
    )
    if date_from is not None:
        conditions.append(day >= date_from)
    if date_to is not None:
        conditions.append(day <= date_to)
    total = await session.scalar(select(func.count()).select_from(Invoice).where(*conditions)) or 0
    rows = await session.execute(
        select(Invoice, Customer.name)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(*conditions)
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [
        wire.InvoiceSummary(
            id=invoice.id,
            status=InvoiceStatus(invoice.status),
            kind=wire.InvoiceKind(invoice.kind),
            customer_id=invoice.customer_id,
            customer_name=name,
            total_amount=invoice.total_amount,
            paid_amount=invoice.paid_amount,
            letter=invoice.letter.value if invoice.letter is not None else None,
            display_number=display_number(invoice.point_of_sale, invoice.number) if invoice.cae else None,
            issue_date=invoice.issue_date,
            cae=invoice.cae,
            job_id=invoice.job_id,
            created_at=invoice.created_at,
        )
        for invoice, name in rows.all()
    ]
    return wire.InvoicePage(items=items, total=int(total), limit=limit, offset=offset)


# -- drafts ---------------------------------------------------------------------------------------


def totals_of(lines: Sequence[InvoiceLine], letter: str | None) -> InvoiceTotals:
    """The stored lines' figures for ``letter`` (a draft not lettered yet is figured as B)."""
    return compute_totals(
        [
            TaxLine(quantity=ln.quantity, unit_price=ln.unit_price, discount=ln.discount, iva_rate=ln.iva_rate)
            for ln in lines
        ],
        letter or "B",
    )


def _apply_totals(invoice: Invoice, lines: Sequence[InvoiceLine]) -> None:
    """Line and invoice amounts from the shared calculator (AFIP's rounding, per-rate IVA)."""
    totals = totals_of(lines, invoice.letter)
    for line, figures in zip(lines, totals.lines, strict=True):
        line.net_amount, line.iva_amount, line.total_amount = figures.net, figures.iva, figures.total
    invoice.net_amount = totals.imp_neto
    invoice.iva_amount = totals.imp_iva
    invoice.untaxed_amount = totals.imp_tot_conc
    invoice.exempt_amount = totals.imp_op_ex
    invoice.other_taxes_amount = totals.imp_trib
    invoice.total_amount = totals.imp_total


def _line_problem(index: int, problem: str) -> AppError:
    return AppError(ErrorCode.INVOICE_LINE_INVALID, details={"key": f"lines[{index}]", "problem": problem})


async def _build_lines(
    session: AsyncSession, org_id: uuid.UUID, invoice_id: uuid.UUID, inputs: Sequence[wire.InvoiceLineInput]
) -> list[InvoiceLine]:
    item_ids = {i.pricebook_item_id for i in inputs if i.pricebook_item_id is not None}
    items: dict[uuid.UUID, PriceBookItem] = {}
    if item_ids:
        found = await session.scalars(select(PriceBookItem).where(PriceBookItem.id.in_(item_ids)))
        items = {item.id: item for item in found}
    lines = []
    for index, data in enumerate(inputs):
        item = items.get(data.pricebook_item_id) if data.pricebook_item_id else None
        if data.pricebook_item_id is not None and item is None:
            raise AppError(ErrorCode.INVOICE_REFERENCE_INVALID, details={"key": f"lines[{index}].pricebookItemId"})
        description = (data.description or (item.name if item else "") or "").strip()
        unit_price = data.unit_price if data.unit_price is not None else (item.base_price if item else None)
        if not description:
            raise _line_problem(index, "description")
        if unit_price is None:
            raise _line_problem(index, "unitPrice")
        iva_rate = data.iva_rate if data.iva_rate is not None else (item.iva_rate if item else DEFAULT_IVA_RATE)
        try:  # the fiscal rules (quantity > 0, price >= 0, discount within the line, AFIP's rates)
            check_line(TaxLine(data.quantity, unit_price, data.discount, iva_rate), index)
        except InvalidLine as exc:
            raise _line_problem(index, exc.details["field"]) from None
        # what the columns hold: Numeric(12, 3) quantities, prices and discounts in cents
        if data.quantity > MAX_QUANTITY or data.quantity.as_tuple().exponent < -3:  # type: ignore[operator]
            raise _line_problem(index, "quantity")
        if unit_price > MAX_PRICE or unit_price.as_tuple().exponent < -2:  # type: ignore[operator]
            raise _line_problem(index, "unitPrice")
        if data.discount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise _line_problem(index, "discount")
        lines.append(
            InvoiceLine(
                org_id=org_id,
                invoice_id=invoice_id,
                pricebook_item_id=item.id if item else None,
                position=index,
                description=description[:300],
                quantity=data.quantity,
                unit_price=unit_price,
                discount=data.discount,
                iva_rate=iva_rate,
            )
        )
    return lines


def _snapshot(invoice: Invoice, lines: Sequence[InvoiceLine] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": str(invoice.status),
        "kind": str(invoice.kind),
        "customerId": str(invoice.customer_id),
        "pointOfSale": invoice.point_of_sale,
        "serviceFrom": invoice.service_from.isoformat() if invoice.service_from else None,
        "serviceTo": invoice.service_to.isoformat() if invoice.service_to else None,
        "paymentDue": invoice.payment_due.isoformat() if invoice.payment_due else None,
        "netAmount": str(invoice.net_amount),
        "ivaAmount": str(invoice.iva_amount),
        "totalAmount": str(invoice.total_amount),
    }
    if lines is not None:
        out["lines"] = [
            {
                "description": line.description,
                "quantity": str(line.quantity),
                "unitPrice": str(line.unit_price),
                "discount": str(line.discount),
                "ivaRate": str(line.iva_rate),
            }
            for line in lines
        ]
    return out


async def _check_customer(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    customer = await session.scalar(select(Customer).where(Customer.id == customer_id))
    if customer is None:
        raise AppError(ErrorCode.INVOICE_REFERENCE_INVALID, details={"key": "customerId"})
    return customer


async def _check_association(
    session: AsyncSession, kind: wire.InvoiceKind, associated_id: uuid.UUID | None, customer_id: uuid.UUID
) -> Invoice | None:
    if kind is wire.InvoiceKind.INVOICE:
        if associated_id is not None:
            raise AppError(ErrorCode.INVOICE_ASSOCIATION_INVALID, details={"key": "associatedInvoiceId"})
        return None
    if associated_id is None:
        raise AppError(ErrorCode.INVOICE_ASSOCIATION_INVALID, details={"key": "associatedInvoiceId", "missing": True})
    original = await session.scalar(select(Invoice).where(Invoice.id == associated_id))
    if original is None or original.cae is None or original.kind != wire.InvoiceKind.INVOICE.value:
        raise AppError(ErrorCode.INVOICE_ASSOCIATION_INVALID, details={"key": "associatedInvoiceId"})
    if original.customer_id != customer_id:
        raise AppError(ErrorCode.INVOICE_ASSOCIATION_INVALID, details={"key": "customerId"})
    return original


async def create_invoice(
    session: AsyncSession, ctx: RequestContext, data: wire.InvoiceCreate, trace_id: str | None = None
) -> wire.Invoice:
    assert ctx.org_id is not None
    await _check_customer(session, data.customer_id)
    await _check_association(session, data.kind, data.associated_invoice_id, data.customer_id)
    if data.job_id is not None and await session.scalar(select(Job.id).where(Job.id == data.job_id)) is None:
        raise AppError(ErrorCode.INVOICE_REFERENCE_INVALID, details={"key": "jobId"})
    _check_service_window(data.service_from, data.service_to)
    invoice = Invoice(
        org_id=ctx.org_id,
        customer_id=data.customer_id,
        job_id=data.job_id,
        kind=data.kind.value,
        associated_invoice_id=data.associated_invoice_id,
        status=InvoiceStatus.DRAFT,
        point_of_sale=data.point_of_sale,
        service_from=data.service_from,
        service_to=data.service_to,
        payment_due=data.payment_due,
        afip_messages=[],
    )
    session.add(invoice)
    await session.flush()
    lines = await _build_lines(session, ctx.org_id, invoice.id, data.lines)
    session.add_all(lines)
    _apply_totals(invoice, lines)
    await session.flush()
    await record_by(
        session, ctx, "invoice.created", "invoice", invoice.id, None, _snapshot(invoice, lines), trace_id=trace_id
    )
    return await to_wire(session, invoice, lines)


def _check_service_window(start: datetime.date | None, end: datetime.date | None) -> None:
    if start is not None and end is not None and end < start:
        raise AppError(ErrorCode.INVOICE_DATES_INVALID, details={"key": "serviceTo"})


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise AppError(
            ErrorCode.INVOICE_NOT_DRAFT,
            details={"status": str(invoice.status)},
        )


async def update_invoice(
    session: AsyncSession,
    ctx: RequestContext,
    invoice_id: uuid.UUID,
    data: wire.InvoiceUpdate,
    trace_id: str | None = None,
) -> wire.Invoice:
    assert ctx.org_id is not None
    invoice = await get_invoice(session, invoice_id, lock=True)
    _require_draft(invoice)
    old_lines = await lines_of(session, invoice.id)
    before = _snapshot(invoice, old_lines)
    for field in ("point_of_sale", "service_from", "service_to", "payment_due"):
        value = getattr(data, field)
        if value is not msgspec.UNSET:
            setattr(invoice, field, value)
    _check_service_window(invoice.service_from, invoice.service_to)
    lines = old_lines
    if data.lines is not msgspec.UNSET:
        for line in old_lines:
            await session.delete(line)
        await session.flush()
        lines = await _build_lines(session, ctx.org_id, invoice.id, data.lines)  # type: ignore[arg-type]
        session.add_all(lines)
    _apply_totals(invoice, lines)
    await session.flush()
    after = _snapshot(invoice, lines)
    if before != after:
        await record_by(session, ctx, "invoice.updated", "invoice", invoice.id, before, after, trace_id=trace_id)
    return await to_wire(session, invoice, lines)


# -- from a completed job ---------------------------------------------------------------------------


async def draft_from_job(session: AsyncSession, org_id: uuid.UUID, job: Job) -> Invoice | None:
    """The completed job's draft invoice (its lines, IVA per line); the existing one if there is one.

    Called by the queued task after completion; the caller holds the job's row lock so two runs for the
    same job cannot both create one.
    """
    existing = await session.scalar(select(Invoice).where(Invoice.job_id == job.id).limit(1))
    if existing is not None:
        return existing
    job_lines = list(
        await session.scalars(select(JobLine).where(JobLine.job_id == job.id).order_by(JobLine.created_at, JobLine.id))
    )
    if not job_lines:
        return None
    done = (job.completed_at or utcnow()).astimezone(ARGENTINA).date()
    started = (job.started_at or job.completed_at or utcnow()).astimezone(ARGENTINA).date()
    invoice = Invoice(
        org_id=org_id,
        customer_id=job.customer_id,
        job_id=job.id,
        kind=wire.InvoiceKind.INVOICE.value,
        status=InvoiceStatus.DRAFT,
        service_from=min(started, done),
        service_to=done,
        afip_messages=[],
    )
    session.add(invoice)
    await session.flush()
    lines = [
        InvoiceLine(
            org_id=org_id,
            invoice_id=invoice.id,
            pricebook_item_id=line.pricebook_item_id,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=Decimal("0"),
            iva_rate=line.iva_rate,
        )
        for position, line in enumerate(job_lines)
    ]
    session.add_all(lines)
    _apply_totals(invoice, lines)
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor_id=None,
        action="invoice.draft_created",
        entity_type="invoice",
        entity_id=invoice.id,
        before=None,
        after={"jobId": str(job.id), **_snapshot(invoice, lines)},
    )
    return invoice


def today_in_argentina(now: datetime.datetime | None = None) -> datetime.date:
    return (now or utcnow()).astimezone(ARGENTINA).date()


# -- requesting a CAE -------------------------------------------------------------------------------


async def prepare_for_cae(
    session: AsyncSession, invoice: Invoice, org: Organization, customer: Customer, *, today: datetime.date
) -> None:
    """Fix the fiscal fields AFIP will receive (letter, receipt type, receiver, concept, dates, totals).

    Raises ``AppError(INVOICE_NOT_READY)`` naming what a person must fix first.
    """
    missing: list[str] = []
    if org.iva_condition is None:
        missing.append("organization.ivaCondition")
    point_of_sale = invoice.point_of_sale or org.default_point_of_sale
    if point_of_sale is None:
        missing.append("pointOfSale")
    if missing:
        raise AppError(ErrorCode.INVOICE_NOT_READY, details={"missing": missing})
    assert org.iva_condition is not None
    issuer = IvaCondition(org.iva_condition)
    receiver = IvaCondition(customer.iva_condition)
    lines = await lines_of(session, invoice.id)
    if not lines:
        raise AppError(ErrorCode.INVOICE_NOT_READY, details={"missing": ["lines"]})
    if invoice.associated_invoice_id is not None:
        original = await get_invoice(session, invoice.associated_invoice_id)
        letter = original.letter.value if original.letter is not None else None
    else:
        letter = None
    try:
        letter = letter or invoicing.invoice_letter(issuer, receiver).value
        receipt = invoicing.receipt_type(invoicing.InvoiceLetter(letter), str(invoice.kind))
        doc_type, doc_number = invoicing.receiver_document(customer.doc_type, customer.doc_number, receiver)
        kinds = await _line_kinds(session, lines)
        concept = invoicing.concept_for(kinds)
        issue_date = today
        invoicing.check_issue_date(issue_date, today, concept)
        service_from = service_to = payment_due = None
        if concept != Concept.PRODUCTOS:
            service_from = invoice.service_from or issue_date
            service_to = invoice.service_to or issue_date
            payment_due = invoice.payment_due or issue_date
            invoicing.service_dates(concept, service_from, service_to, payment_due, issue_date)
    except invoicing.InvoiceRuleError as exc:
        raise AppError(ErrorCode.INVOICE_NOT_READY, str(exc), details={"rule": exc.code, **exc.details}) from None
    invoice.letter = invoicing.InvoiceLetter(letter)  # type: ignore[assignment]
    invoice.receipt_type = int(receipt)
    invoice.point_of_sale = point_of_sale
    invoice.doc_type = int(doc_type)
    invoice.doc_number = str(doc_number)
    invoice.receiver_iva_condition_id = invoicing.receiver_condition_id(receiver)
    invoice.concept = int(concept)
    invoice.issue_date = issue_date
    invoice.service_from, invoice.service_to, invoice.payment_due = service_from, service_to, payment_due
    _apply_totals(invoice, lines)
    if invoice.total_amount <= 0:
        raise AppError(ErrorCode.INVOICE_NOT_READY, details={"missing": ["totalAmount"]})


async def _line_kinds(session: AsyncSession, lines: Sequence[InvoiceLine]) -> set[str]:
    ids = {line.pricebook_item_id for line in lines if line.pricebook_item_id is not None}
    kinds: set[str] = set()
    if ids:
        for kind in await session.scalars(select(PriceBookItem.kind).where(PriceBookItem.id.in_(ids))):
            kinds.add("material" if str(kind) == "material" else "service")
    if any(line.pricebook_item_id is None for line in lines):
        kinds.add("service")  # free lines of a trades business are labour
    return kinds


async def request_cae(
    session: AsyncSession, ctx: RequestContext, invoice_id: uuid.UUID, trace_id: str | None = None
) -> Invoice:
    """Draft → pending_cae with its fiscal fields fixed; the caller queues the issuing task after commit."""
    assert ctx.org_id is not None
    invoice = await get_invoice(session, invoice_id, lock=True)
    if invoice.status == InvoiceStatus.PENDING_CAE:
        return invoice  # asked twice: already queued
    _require_draft(invoice)
    org = await session.get(Organization, ctx.org_id)
    customer = await session.get(Customer, invoice.customer_id)
    assert org is not None and customer is not None
    before = {"status": str(invoice.status)}
    await prepare_for_cae(session, invoice, org, customer, today=today_in_argentina())
    assert INVOICE_MACHINE.can(InvoiceStatus(invoice.status), InvoiceStatus.PENDING_CAE)
    invoice.status = InvoiceStatus.PENDING_CAE
    invoice.afip_messages = []
    invoice.rejected_at = None
    invoice.requested_at = utcnow()
    await session.flush()
    await record_by(
        session,
        ctx,
        "invoice.cae_requested",
        "invoice",
        invoice.id,
        before,
        {
            "status": str(invoice.status),
            "letter": invoice.letter.value if invoice.letter is not None else None,
            "receiptType": invoice.receipt_type,
            "pointOfSale": invoice.point_of_sale,
            "totalAmount": str(invoice.total_amount),
        },
        trace_id=trace_id,
    )
    return invoice


async def mark_sent(
    session: AsyncSession, ctx: RequestContext, invoice_id: uuid.UUID, trace_id: str | None = None
) -> wire.Invoice:
    """Issued → sent (the customer got it). Sending it again is harmless; a draft cannot be sent."""
    invoice = await get_invoice(session, invoice_id, lock=True)
    current = InvoiceStatus(invoice.status)
    if current is not InvoiceStatus.SENT:
        if not INVOICE_MACHINE.can(current, InvoiceStatus.SENT):
            raise AppError(
                ErrorCode.INVOICE_TRANSITION_NOT_ALLOWED,
                details={"status": str(current), "allowed": sorted(str(s) for s in INVOICE_MACHINE.allowed(current))},
            )
        invoice.status = InvoiceStatus.SENT
        await session.flush()
        await record_by(
            session,
            ctx,
            "invoice.sent",
            "invoice",
            invoice.id,
            {"status": str(current)},
            {"status": "sent"},
            trace_id=trace_id,
        )
    return await to_wire(session, invoice)
