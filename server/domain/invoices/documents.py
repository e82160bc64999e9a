"""The issued invoice's PDF: rendered once per number of copies, stored, then served from storage.

An invoice with a CAE cannot change its fiscal fields (database trigger), and the renderer is
deterministic, so the stored file stays true; the first request renders it (in a worker thread) and
keeps it under ``orgs/<org>/invoices/<id>-<copies>.pdf``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Customer, CustomerAddress, Invoice, Organization, PriceBookItem
from server.domain.invoices.pdf import document_from_records, render_invoice_pdf
from server.domain.invoices.services import display_number, get_invoice, lines_of
from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.storage import storage_for
from shared.errors import ErrorCode
from shared.fiscal.afip_codes import RECEIPT_TYPE_DESCRIPTIONS

if TYPE_CHECKING:
    from server.runtime import Resources

log = get_logger("campotech.invoices")

COPY_LABELS = ("ORIGINAL", "DUPLICADO", "TRIPLICADO")


def pdf_key(org_id: uuid.UUID, invoice_id: uuid.UUID, copies: int) -> str:
    return f"orgs/{org_id}/invoices/{invoice_id}-{copies}.pdf"


def filename_of(invoice: Invoice) -> str:
    letter = invoice.letter.value if invoice.letter is not None else ""
    return f"factura-{letter}-{display_number(invoice.point_of_sale, invoice.number)}.pdf"


async def _render(
    session: AsyncSession, resources: Resources, org_id: uuid.UUID, invoice: Invoice, copies: int
) -> bytes:
    org = await session.get(Organization, org_id)
    customer = await session.get(Customer, invoice.customer_id)
    assert org is not None and customer is not None
    lines = await lines_of(session, invoice.id)
    item_ids = {line.pricebook_item_id for line in lines if line.pricebook_item_id is not None}
    codes = {}
    if item_ids:
        rows = await session.execute(
            select(PriceBookItem.id, PriceBookItem.code, PriceBookItem.unit).where(PriceBookItem.id.in_(item_ids))
        )
        codes = {row.id: (row.code, row.unit) for row in rows}
    address = await session.scalar(
        select(CustomerAddress)
        .where(CustomerAddress.customer_id == customer.id)
        .order_by(CustomerAddress.is_default.desc(), CustomerAddress.created_at)
        .limit(1)
    )
    associated = None
    if invoice.associated_invoice_id is not None:
        original = await session.get(Invoice, invoice.associated_invoice_id)
        if original is not None and original.number is not None:
            kind = RECEIPT_TYPE_DESCRIPTIONS.get(int(original.receipt_type or 0), "Factura")
            associated = f"{kind} {display_number(original.point_of_sale, original.number)}"
    logo = None
    if org.logo_path:
        try:
            logo = await storage_for(resources.settings).get(org.logo_path)
        except (FileNotFoundError, ValueError):
            log.warning("organization logo not found; invoice printed without it")
    document = document_from_records(
        org,
        invoice,
        lines,
        customer_name=customer.name,
        customer_address=_address_text(address),
        customer_iva_condition=customer.iva_condition,
        line_codes=codes,
        logo_png=logo,
        associated_receipt=associated,
    )
    return await asyncio.to_thread(render_invoice_pdf, document, copies=COPY_LABELS[:copies])


def _address_text(address: CustomerAddress | None) -> str | None:
    if address is None:
        return None
    parts = [getattr(address, name, None) for name in ("street", "city", "province")]
    return ", ".join(str(p) for p in parts if p) or None


async def invoice_pdf(
    session: AsyncSession, resources: Resources, org_id: uuid.UUID, invoice_id: uuid.UUID, copies: int = 1
) -> tuple[bytes, str]:
    """The PDF bytes and a file name; 409 while the invoice has no CAE."""
    invoice = await get_invoice(session, invoice_id)
    if invoice.cae is None:
        raise AppError(ErrorCode.INVOICE_NOT_ISSUED, details={"status": str(invoice.status)})
    storage = storage_for(resources.settings)
    key = pdf_key(org_id, invoice.id, copies)
    try:
        return await storage.get(key), filename_of(invoice)
    except FileNotFoundError:
        pass
    pdf = await _render(session, resources, org_id, invoice, copies)
    await storage.put(key, pdf, "application/pdf")
    return pdf, filename_of(invoice)
