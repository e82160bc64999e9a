from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, pg_enum
from shared.fiscal.iva import IvaCondition


class Organization(Base):
    """A trades business (the tenant). Its own row is visible only inside its own context."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))  # razón social
    cuit: Mapped[str] = mapped_column(String(11), unique=True)
    iva_condition: Mapped[IvaCondition | None] = mapped_column(pg_enum(IvaCondition, "iva_condition"))
    gross_income_number: Mapped[str | None] = mapped_column(String(30))  # Ingresos Brutos
    activity_start_date: Mapped[datetime.date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(Text)
    logo_path: Mapped[str | None] = mapped_column(String(500))
    default_point_of_sale: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
