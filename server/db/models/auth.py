from __future__ import annotations

import datetime
import uuid

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, tenant_fk, tenant_key


class AuthSession(OrgOwned, Base):
    """One signed-in device (phone, desktop…). Its refresh tokens form one rotation family."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        tenant_key(),
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        Index("ix_auth_sessions_user", "org_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column()
    device_name: Mapped[str | None] = mapped_column(String(120))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    expires_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(OrgOwned, Base):
    """Stored only as a SHA-256 hash; spent on use. Presenting a spent one revokes its session."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        tenant_fk("session_id", "auth_sessions", ondelete="CASCADE"),
        Index("ix_refresh_tokens_session", "org_id", "session_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
    used_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column()
