"""Sync change tracking (migration 0010): the per-org change counter, tombstones and office-visible conflicts.

``change_seq`` / ``version`` of the synced tables are set by triggers (``sync_track_change``); the
application never writes them.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.base import DefaultBase
from sqlalchemy import BigInteger, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, InsertOnlyBase, OrgOwned, Timestamp, utcnow


class SyncCounter(OrgOwned, DefaultBase):
    """One row an organisation: the last change sequence given out (``sync_next_seq``).

    Named ``change_seq_heads`` so that it sorts before the synced tables (the RLS tests seed tables in
    the metadata's order and the first synced row creates this one, like ``audit_chain_heads``). Only
    the ``sync_next_seq`` function writes it; its row lock, held until commit, orders an org's changes.
    """

    __tablename__ = "change_seq_heads"
    __table_args__ = (PrimaryKeyConstraint("org_id", name="pk_change_seq_heads"),)

    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pruned_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class SyncTombstone(OrgOwned, InsertOnlyBase):
    """A synced row that was deleted (written by the ``sync_record_delete`` trigger)."""

    __tablename__ = "sync_tombstones"
    __table_args__ = (Index("ix_sync_tombstones_org_seq", "org_id", "change_seq"),)

    table_name: Mapped[str] = mapped_column(String(60))
    row_id: Mapped[uuid.UUID] = mapped_column()
    change_seq: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class SyncConflict(OrgOwned, Base):
    """A pushed operation the server refused in a way the office must see (e.g. job cancelled on the server)."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_org_open", "org_id", "acknowledged_at", "created_at"),)

    kind: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[uuid.UUID] = mapped_column()
    op_id: Mapped[uuid.UUID] = mapped_column()
    op: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    device_id: Mapped[str] = mapped_column(String(100))
    device_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    server_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    message: Mapped[str] = mapped_column(Text)
    acknowledged_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column()
