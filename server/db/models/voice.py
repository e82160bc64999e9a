from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, pg_enum, tenant_fk
from shared.states import VoiceNoteStatus


class VoiceNote(OrgOwned, Base):
    __tablename__ = "voice_notes"
    __table_args__ = (
        tenant_fk("whatsapp_message_id", "whatsapp_messages", ondelete="SET NULL"),
        tenant_fk("customer_id", "customers", ondelete="SET NULL"),
        tenant_fk("job_id", "jobs", ondelete="SET NULL"),
        tenant_fk("reviewed_by_id", "users", ondelete="SET NULL"),
        Index("ix_voice_notes_org_status", "org_id", "status", "created_at"),
    )

    whatsapp_message_id: Mapped[uuid.UUID | None] = mapped_column()
    customer_id: Mapped[uuid.UUID | None] = mapped_column()
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[VoiceNoteStatus] = mapped_column(
        pg_enum(VoiceNoteStatus, "voice_note_status"), default=VoiceNoteStatus.RECEIVED
    )
    audio_path: Mapped[str | None] = mapped_column(String(500))
    duration_seconds: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    transcript: Mapped[str | None] = mapped_column(Text)
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column()
