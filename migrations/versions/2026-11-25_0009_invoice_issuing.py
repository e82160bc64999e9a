"""invoices: what kind of receipt (invoice, credit note, debit note), when the CAE was asked for, last rejection

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

``kind`` says what a receipt is before AFIP's receipt type is fixed (the letter depends on the
issuer's and receiver's IVA conditions at the time the CAE is requested). ``requested_at`` is when the
CAE was asked for (the AFIP queue shows the oldest waiting); ``rejected_at`` when AFIP last sent it back
to draft (its reasons stay in ``afip_messages`` until the CAE is requested again).
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("kind", sa.String(length=20), server_default="invoice", nullable=False))
    op.add_column(
        "invoices",
        sa.Column("requested_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    )
    op.add_column(
        "invoices",
        sa.Column("rejected_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_invoices_kind_known"), "invoices", "kind in ('invoice', 'credit_note', 'debit_note')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_invoices_kind_known"), "invoices", type_="check")
    op.drop_column("invoices", "rejected_at")
    op.drop_column("invoices", "requested_at")
    op.drop_column("invoices", "kind")
