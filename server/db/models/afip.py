from __future__ import annotations

import datetime
import uuid
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, OrgOwned, Timestamp, pg_enum, tenant_fk


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


class AfipCredentialStatus(StrEnum):
    PENDING_CERTIFICATE = "pending_certificate"  # key and CSR made; AFIP's certificate not uploaded yet
    ACTIVE = "active"  # the certificate the WSAA client signs with (one per organisation)
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer certificate became active


class AfipCredential(OrgOwned, Base):
    """An organisation's AFIP key (sealed with the AFIP data key, never returned), its CSR and certificate."""

    __tablename__ = "afip_credentials"
    __table_args__ = (
        tenant_fk("created_by_id", "users", ondelete="SET NULL"),
        Index("ix_afip_credentials_org_created", "org_id", "created_at"),
        Index("uq_afip_credentials_org_active", "org_id", unique=True, postgresql_where=text("status = 'active'")),
    )

    cuit: Mapped[str] = mapped_column(String(11))
    alias: Mapped[str] = mapped_column(String(50))  # the CSR's CN, AFIP's "nombre simbólico del DN"
    # PKCS#8 PEM sealed with server.lib.keys (purpose AFIP, AAD: column, org, row id), base64
    key_encrypted: Mapped[str] = mapped_column(Text)
    csr_pem: Mapped[str] = mapped_column(Text)
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    certificate_serial: Mapped[str | None] = mapped_column(String(64))  # hex
    certificate_subject: Mapped[str | None] = mapped_column(String(500))
    certificate_issuer: Mapped[str | None] = mapped_column(String(500))
    not_before: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    not_after: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    status: Mapped[AfipCredentialStatus] = mapped_column(
        pg_enum(AfipCredentialStatus, "afip_credential_status"), default=AfipCredentialStatus.PENDING_CERTIFICATE
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column()


class AfipTicket(OrgOwned, Base):
    """The WSAA access ticket (token + sign) per CUIT and service, sealed at rest, kept until it expires."""

    __tablename__ = "afip_tickets"
    __table_args__ = (UniqueConstraint("org_id", "cuit", "service", name="uq_afip_tickets_org_cuit_service"),)

    cuit: Mapped[str] = mapped_column(String(11))
    service: Mapped[str] = mapped_column(String(60))
    token_encrypted: Mapped[str] = mapped_column(Text)
    sign_encrypted: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime.datetime] = mapped_column(Timestamp)
