from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned


class AfipPointOfSale(OrgOwned, Base):
    __tablename__ = "afip_points_of_sale"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_afip_points_of_sale_org_number"),)

    number: Mapped[int] = mapped_column(Integer)  # PtoVta
    name: Mapped[str | None] = mapped_column(String(100))
    emission_type: Mapped[str] = mapped_column(String(20), default="CAE")  # EmisionTipo
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class AfipSequence(OrgOwned, Base):
    """Last number AFIP authorised per (point of sale, receipt type); the issuer serialises on this row."""

    __tablename__ = "afip_sequences"
    __table_args__ = (
        UniqueConstraint("org_id", "point_of_sale", "receipt_type", name="uq_afip_sequences_org_pos_type"),
    )

    point_of_sale: Mapped[int] = mapped_column(Integer)
    receipt_type: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)
