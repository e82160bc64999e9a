"""Data keys of the envelope encryption (``server/lib/keys.py``): platform-wide, not org-owned."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, pg_enum


class KeyPurpose(StrEnum):
    """One data key (with its versions) per purpose: a leak of one never opens the others."""

    AFIP = "afip"
    MERCADOPAGO = "mercadopago"
    PII = "pii"
    GENERAL = "general"


class DataKey(Base):
    """A random 32-byte data key, stored only wrapped (AES-256-GCM) under the master key.

    Versions of a purpose are never deleted: ciphertexts name the version that sealed them. One version a
    purpose is ``active`` (new encryptions use it). The application role may read and add rows (the first
    version of a purpose is made on first use); rotation (``campotech keys``) runs as the owner.
    """

    __tablename__ = "data_keys"
    __table_args__ = (
        UniqueConstraint("purpose", "version", name="uq_data_keys_purpose_version"),
        Index("uq_data_keys_active_purpose", "purpose", unique=True, postgresql_where=text("active")),
    )

    purpose: Mapped[KeyPurpose] = mapped_column(pg_enum(KeyPurpose, "data_key_purpose"))
    version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    # which master key wrapped it (a fingerprint, never the key): status and rotation report mismatches
    wrapped_by: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
