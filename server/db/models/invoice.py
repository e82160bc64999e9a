from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, Money, OrgOwned, Timestamp, pg_enum, tenant_fk, tenant_key
from shared.fiscal.invoicing import InvoiceLetter
from shared.states import InvoiceStatus


class Invoice(OrgOwned, Base):
    """An invoice or a credit/debit note. AFIP field names are noted beside our own.

    Once ``cae`` is set, the fiscal fields are immutable (trigger ``invoices_fiscal_lock``).
    """

    __tablename__ = "invoices"
    __table_args__ = (
        tenant_key(),
        tenant_fk("customer_id", "customers", ondelete="RESTRICT"),
        tenant_fk("job_id", "jobs", ondelete="SET NULL"),
        tenant_fk("associated_invoice_id", "invoices", ondelete="RESTRICT"),
        Index(
            "uq_invoices_number",
            "org_id",
            "point_of_sale",
            "receipt_type",
            "number",
            unique=True,
            postgresql_where="number IS NOT NULL",
        ),
        Index("ix_invoices_org_status", "org_id", "status", "created_at"),
        CheckConstraint("kind in ('invoice', 'credit_note', 'debit_note')", name="kind_known"),
        Index("ix_invoices_customer", "org_id", "customer_id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column()
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20), default="invoice", server_default="invoice")  # invoice / notes
    associated_invoice_id: Mapped[uuid.UUID | None] = mapped_column()  # CbtesAsoc, for credit/debit notes
    status: Mapped[InvoiceStatus] = mapped_column(pg_enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.DRAFT)
    letter: Mapped[InvoiceLetter | None] = mapped_column(pg_enum(InvoiceLetter, "invoice_letter"))
    receipt_type: Mapped[int | None] = mapped_column(Integer)  # CbteTipo
    point_of_sale: Mapped[int | None] = mapped_column(Integer)  # PtoVta
    number: Mapped[int | None] = mapped_column(BigInteger)  # CbteDesde = CbteHasta
    issue_date: Mapped[datetime.date | None] = mapped_column(Date)  # CbteFch
    concept: Mapped[int | None] = mapped_column(Integer)  # Concepto: 1 productos, 2 servicios, 3 ambos
    service_from: Mapped[datetime.date | None] = mapped_column(Date)  # FchServDesde
    service_to: Mapped[datetime.date | None] = mapped_column(Date)  # FchServHasta
    payment_due: Mapped[datetime.date | None] = mapped_column(Date)  # FchVtoPago
    doc_type: Mapped[int | None] = mapped_column(Integer)  # DocTipo
    doc_number: Mapped[str | None] = mapped_column(String(11))  # DocNro
    receiver_iva_condition_id: Mapped[int | None] = mapped_column(Integer)  # CondicionIVAReceptorId
    net_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # ImpNeto
    untaxed_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # ImpTotConc
    exempt_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # ImpOpEx
    iva_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # ImpIVA
    other_taxes_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # ImpTrib
    total_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # ImpTotal
    currency: Mapped[str] = mapped_column(String(3), default="PES")  # MonId
    exchange_rate: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal("1"))  # MonCotiz
    cae: Mapped[str | None] = mapped_column(String(14))  # CAE
    cae_due_date: Mapped[datetime.date | None] = mapped_column(Date)  # CAEFchVto
    afip_result: Mapped[str | None] = mapped_column(String(1))  # Resultado: A / R / P
    afip_messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # Obs / Errors
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    issued_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    requested_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)  # CAE asked for (pending since)
    rejected_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)  # AFIP's last rejection (reasons kept)


class InvoiceLine(OrgOwned, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        tenant_fk("invoice_id", "invoices", ondelete="CASCADE"),
        tenant_fk("pricebook_item_id", "price_book_items", ondelete="SET NULL"),
        Index("ix_invoice_lines_invoice", "org_id", "invoice_id"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column()
    pricebook_item_id: Mapped[uuid.UUID | None] = mapped_column()
    position: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    iva_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("21.00"))
    net_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    iva_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
