"""Mercado Pago: each organisation's connected seller account, and the notifications Mercado Pago sent.

``mercadopago_connections`` (org-owned): the seller's MP user id, access and refresh tokens sealed with
the Mercado Pago data key (``server/lib/keys.py``; associated data binds them to the org and column),
their expiry and the public key. One row an organisation.

``mercadopago_webhook_events`` is platform-wide (no tenant): a notification arrives before we know whose
it is. One row per (topic, data id): a duplicate or a later notification about the same resource bumps
``deliveries`` and marks it pending again; the worker then fetches the resource's *current* state from
Mercado Pago and applies what changed, so duplicates and reordered deliveries change nothing twice.
"""

from __future__ import annotations

import datetime
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, pg_enum, tenant_fk


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    REFRESH_FAILED = "refresh_failed"  # Mercado Pago refused the refresh token: the owner connects again
    DISCONNECTED = "disconnected"


class MercadoPagoConnection(OrgOwned, Base):
    __tablename__ = "mercadopago_connections"
    __table_args__ = (
        tenant_fk("connected_by_id", "users", ondelete="SET NULL"),
        UniqueConstraint("org_id", name="uq_mercadopago_connections_org"),
        Index("ix_mercadopago_connections_user", "mp_user_id"),
    )

    mp_user_id: Mapped[str] = mapped_column(String(40))
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    public_key: Mapped[str | None] = mapped_column(String(120))
    scope: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    refreshed_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    status: Mapped[ConnectionStatus] = mapped_column(
        pg_enum(ConnectionStatus, "mercadopago_connection_status"), default=ConnectionStatus.ACTIVE
    )
    connected_by_id: Mapped[uuid.UUID | None] = mapped_column()


class MercadoPagoWebhookEvent(Base):
    """A notification, stored before anything else happens (platform-wide: see the module docstring)."""

    __tablename__ = "mercadopago_webhook_events"
    __table_args__ = (
        UniqueConstraint("topic", "data_id", name="uq_mercadopago_webhook_events_topic_data"),
        Index("ix_mercadopago_webhook_events_pending", "pending", "last_received_at"),
    )

    topic: Mapped[str] = mapped_column(String(60))
    data_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(80))
    mp_user_id: Mapped[str | None] = mapped_column(String(40))
    org_hint: Mapped[uuid.UUID | None] = mapped_column(PG_UUID(as_uuid=True))  # ?org= of our notification_url
    org_id: Mapped[uuid.UUID | None] = mapped_column(PG_UUID(as_uuid=True))  # resolved by the worker
    live_mode: Mapped[bool | None] = mapped_column(Boolean)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    first_received_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
    last_received_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    processed_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    outcome: Mapped[str | None] = mapped_column(String(60))
    changes: Mapped[int] = mapped_column(Integer, default=0)  # state changes this resource caused, all deliveries
