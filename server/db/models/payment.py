from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, Money, OrgOwned, Timestamp, pg_enum, tenant_fk
from shared.states import PaymentMethod, PaymentStatus


class Payment(OrgOwned, Base):
    __tablename__ = "payments"
    __table_args__ = (
        tenant_fk("invoice_id", "invoices", ondelete="RESTRICT"),
        tenant_fk("recorded_by_id", "users", ondelete="SET NULL"),
        Index("ix_payments_invoice", "org_id", "invoice_id"),
        Index("ix_payments_external", "org_id", "external_id"),
        Index("ix_payments_org_status", "org_id", "status", "created_at"),
    )

    invoice_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[PaymentStatus] = mapped_column(
        pg_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    method: Mapped[PaymentMethod] = mapped_column(pg_enum(PaymentMethod, "payment_method"))
    amount: Mapped[Decimal] = mapped_column(Money)
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="ARS")
    installments: Mapped[int] = mapped_column(Integer, default=1)
    external_id: Mapped[str | None] = mapped_column(String(64))  # Mercado Pago payment id
    reference: Mapped[str | None] = mapped_column(String(120))  # transfer / cheque reference
    notes: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column()
    provider_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
