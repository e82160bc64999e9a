from __future__ import annotations

import datetime
import uuid

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, pg_enum, tenant_fk, tenant_key
from shared.roles import Role


class User(OrgOwned, Base):
    """A member of an organisation, identified by phone (E.164). One organisation per phone."""

    __tablename__ = "users"
    __table_args__ = (
        tenant_key(),
        tenant_fk("invited_by_id", "users", ondelete="SET NULL"),
        Index("ix_users_org_role", "org_id", "role"),
    )

    phone: Mapped[str] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "user_role"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    joined_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)  # first login (accepts the invite)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column()
