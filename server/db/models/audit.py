from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.base import DefaultBase
from sqlalchemy import BigInteger, Identity, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import InsertOnlyBase, OrgOwned, Timestamp, utcnow


class AuditLogEntry(OrgOwned, InsertOnlyBase):
    """Append-only, hash-chained per organisation.

    ``prev_hash`` and ``hash`` are filled by the ``audit_log_chain`` trigger: hash = SHA-256 of the
    previous entry's hash of the same org plus this entry's canonical content. Verify with
    ``audit_chain_verify(org_id)``. The trigger finds the previous hash in the org's ``AuditChainHead``.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_seq", "org_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), unique=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[uuid.UUID | None] = mapped_column()
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(OrgOwned, DefaultBase):
    """The end of one organisation's audit chain, kept by the ``audit_log_chain`` trigger (migration 0004).

    Appending an entry updates this row (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), so writers of one
    organisation take its row lock in turn, and under REPEATABLE READ or SERIALIZABLE a writer whose
    snapshot missed a concurrent append fails with a serialization error (40001, retry) instead of
    chaining onto a stale predecessor. Not for application code: only the trigger writes it.
    """

    __tablename__ = "audit_chain_heads"
    __table_args__ = (PrimaryKeyConstraint("org_id", name="pk_audit_chain_heads"),)

    last_seq: Mapped[int] = mapped_column(BigInteger)  # seq of the org's newest entry (0: none yet)
    last_hash: Mapped[str | None] = mapped_column(Text)  # its hash (NULL: none yet)
