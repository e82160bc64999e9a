from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, pg_enum
from shared.states import VoiceNoteStatus


class VoiceNote(OrgOwned, Base):
    __tablename__ = "voice_notes"
    __table_args__ = (Index("ix_voice_notes_org_status", "org_id", "status", "created_at"),)

    whatsapp_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_messages.id", ondelete="SET NULL")
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    status: Mapped[VoiceNoteStatus] = mapped_column(
        pg_enum(VoiceNoteStatus, "voice_note_status"), default=VoiceNoteStatus.RECEIVED
    )
    audio_path: Mapped[str | None] = mapped_column(String(500))
    duration_seconds: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    transcript: Mapped[str | None] = mapped_column(Text)
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
