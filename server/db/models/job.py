from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, InsertOnlyBase, Money, OrgOwned, Timestamp, pg_enum, tenant_fk, tenant_key, utcnow
from shared.pricing import Complexity
from shared.states import JobPriority, JobStatus


class Job(OrgOwned, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        tenant_key(),
        tenant_fk("customer_id", "customers", ondelete="RESTRICT"),
        tenant_fk("address_id", "customer_addresses", ondelete="SET NULL"),
        tenant_fk("created_by_id", "users", ondelete="SET NULL"),
        Index("ix_jobs_org_status_start", "org_id", "status", "scheduled_start"),
        Index("ix_jobs_org_start", "org_id", "scheduled_start"),
        Index("ix_jobs_customer", "org_id", "customer_id"),
        Index("ix_jobs_org_change_seq", "org_id", "change_seq"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column()
    address_id: Mapped[uuid.UUID | None] = mapped_column()
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    service_type: Mapped[str | None] = mapped_column(String(60))
    priority: Mapped[JobPriority] = mapped_column(pg_enum(JobPriority, "job_priority"), default=JobPriority.NORMAL)
    status: Mapped[JobStatus] = mapped_column(pg_enum(JobStatus, "job_status"), default=JobStatus.PENDING)
    # how hard the work is: multiplies the price of service lines from the price book (shared.pricing)
    complexity: Mapped[Complexity] = mapped_column(
        pg_enum(Complexity, "complexity_level"), default=Complexity.NORMAL, server_default=Complexity.NORMAL.value
    )
    scheduled_start: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    scheduled_end: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    estimated_minutes: Mapped[int | None] = mapped_column(Integer)
    actual_minutes: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    completed_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    cancelled_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    completion_notes: Mapped[str | None] = mapped_column(Text)
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)


class JobAssignment(OrgOwned, Base):
    """A technician assigned to a job (a job may have several)."""

    __tablename__ = "job_assignments"
    __table_args__ = (
        tenant_fk("job_id", "jobs", ondelete="CASCADE"),
        tenant_fk("technician_id", "users", ondelete="CASCADE"),
        UniqueConstraint("job_id", "technician_id", name="uq_job_assignments_job_technician"),
        Index("ix_job_assignments_technician", "org_id", "technician_id"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column()
    technician_id: Mapped[uuid.UUID] = mapped_column()


class JobLine(OrgOwned, Base):
    """A billable line of a job (from the price book or free text)."""

    __tablename__ = "job_lines"
    __table_args__ = (
        tenant_fk("job_id", "jobs", ondelete="CASCADE"),
        tenant_fk("pricebook_item_id", "price_book_items", ondelete="SET NULL"),
        Index("ix_job_lines_job", "org_id", "job_id"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column()
    pricebook_item_id: Mapped[uuid.UUID | None] = mapped_column()
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    iva_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("21.00"))
    # how unit_price came about: "manual" (typed in), else shared.pricing.PriceSource of the price book
    price_source: Mapped[str] = mapped_column(String(20), default="manual", server_default="manual")
    # the resolution: {"zone", "complexity", "breakdown": [{"name", "value", "result"}]}; None when manual
    price_derivation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class JobNote(OrgOwned, InsertOnlyBase):
    """Notes are appended, never overwritten."""

    __tablename__ = "job_notes"
    __table_args__ = (
        tenant_fk("job_id", "jobs", ondelete="CASCADE"),
        tenant_fk("author_id", "users", ondelete="SET NULL"),
        Index("ix_job_notes_job", "org_id", "job_id"),
        Index("ix_job_notes_org_change_seq", "org_id", "change_seq"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column()
    author_id: Mapped[uuid.UUID | None] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # sync (0010)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)


class JobPhoto(OrgOwned, Base):
    __tablename__ = "job_photos"
    __table_args__ = (
        tenant_fk("job_id", "jobs", ondelete="CASCADE"),
        tenant_fk("uploaded_by_id", "users", ondelete="SET NULL"),
        UniqueConstraint("job_id", "content_hash", name="uq_job_photos_job_hash"),
        Index("ix_job_photos_job", "org_id", "job_id"),
        Index("ix_job_photos_org_change_seq", "org_id", "change_seq"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))  # SHA-256, hex
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    storage_path: Mapped[str] = mapped_column(String(500))
    thumbnail_path: Mapped[str | None] = mapped_column(String(500))
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # sync (0010)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)


class JobSignature(OrgOwned, Base):
    __tablename__ = "job_signatures"
    __table_args__ = (
        tenant_fk("job_id", "jobs", ondelete="CASCADE"),
        Index("ix_job_signatures_org_change_seq", "org_id", "change_seq"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    signer_name: Mapped[str | None] = mapped_column(String(200))
    strokes: Mapped[list[Any]] = mapped_column(JSONB, default=list)  # vector strokes
    png_path: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # sync (0010)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # sync (0010)


class JobStatusEvent(OrgOwned, InsertOnlyBase):
    """One timestamped transition: who, when, from which device, optional GPS."""

    __tablename__ = "job_status_events"
    __table_args__ = (
        tenant_fk("job_id", "jobs", ondelete="CASCADE"),
        tenant_fk("actor_id", "users", ondelete="SET NULL"),
        Index("ix_job_status_events_job", "org_id", "job_id", "occurred_at"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column()
    from_status: Mapped[JobStatus | None] = mapped_column(pg_enum(JobStatus, "job_status"))
    to_status: Mapped[JobStatus] = mapped_column(pg_enum(JobStatus, "job_status"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    device_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    lng: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    occurred_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
