"""Payments with Mercado Pago: connections, payments, refunds, disputes, webhook events, reconciliation (filled in by the payments work)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
