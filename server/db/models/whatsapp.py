from __future__ import annotations

import datetime
import uuid

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, pg_enum, tenant_fk, tenant_key
from shared.states import MessageDirection, WhatsAppMessageStatus


class WhatsAppMessage(OrgOwned, Base):
    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        tenant_key(),
        tenant_fk("customer_id", "customers", ondelete="SET NULL"),
        Index("ix_whatsapp_messages_customer", "org_id", "customer_id", "created_at"),
        Index("ix_whatsapp_messages_wa_id", "wa_message_id"),
    )

    customer_id: Mapped[uuid.UUID | None] = mapped_column()
    direction: Mapped[MessageDirection] = mapped_column(pg_enum(MessageDirection, "message_direction"))
    status: Mapped[WhatsAppMessageStatus] = mapped_column(pg_enum(WhatsAppMessageStatus, "whatsapp_message_status"))
    wa_message_id: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="text")  # text, template, audio, image
    body: Mapped[str | None] = mapped_column(Text)
    template_name: Mapped[str | None] = mapped_column(String(100))
    media_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
