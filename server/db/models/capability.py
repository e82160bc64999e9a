from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.base import DefaultBase
from sqlalchemy import Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, utcnow


class CapabilityOverride(OrgOwned, Base):
    """One organisation's switch for one capability (e.g. afip off while its certificate is renewed)."""

    __tablename__ = "capability_overrides"
    __table_args__ = (UniqueConstraint("org_id", "capability", name="uq_capability_overrides_org_capability"),)

    capability: Mapped[str] = mapped_column(String(60))
    enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    set_by_id: Mapped[uuid.UUID | None] = mapped_column()


class SystemCapability(DefaultBase):
    """A platform-wide switch ("panic mode"): beats every organisation's override. Not org-owned."""

    __tablename__ = "system_capabilities"

    capability: Mapped[str] = mapped_column(String(60), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
