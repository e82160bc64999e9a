"""Wire contracts of jobs: create, edit, read, list, status moves, assignment and scheduling."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated

import msgspec

from shared.schemas.base import CamelStruct
from shared.states.job import JobEvent, JobPriority, JobStatus

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=4000)]
ServiceType = Annotated[str, msgspec.Meta(max_length=60)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 30)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Quantity = Decimal  # > 0, at most 3 decimals: checked with the line (shared.pricing)
Price = Decimal  # > 0: checked with the line
TechnicianIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)]


class LineInput(CamelStruct):
    """A billable line: from the price book (description/price/IVA default to the item's) or free text."""

    pricebook_item_id: uuid.UUID | None = None
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    quantity: Quantity = Decimal("1")
    unit_price: Price | None = None
    iva_rate: Decimal | None = None  # a percentage among AFIP's rates; default the item's, else 21


class JobCreate(CamelStruct):
    customer_id: uuid.UUID
    title: Title
    address_id: uuid.UUID | None = None
    description: LongText | None = None
    service_type: ServiceType | None = None
    priority: JobPriority = JobPriority.NORMAL
    scheduled_start: datetime.datetime | None = None
    scheduled_end: datetime.datetime | None = None
    estimated_minutes: Minutes | None = None
    technician_ids: TechnicianIds = msgspec.field(default_factory=list)
    lines: Annotated[list[LineInput], msgspec.Meta(max_length=200)] = msgspec.field(default_factory=list)


class JobUpdate(CamelStruct):
    """Editable while the job is open (not completed or cancelled); ``lines`` replaces them all."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: LongText | msgspec.UnsetType | None = msgspec.UNSET
    service_type: ServiceType | msgspec.UnsetType | None = msgspec.UNSET
    priority: JobPriority | msgspec.UnsetType = msgspec.UNSET
    estimated_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET
    lines: Annotated[list[LineInput], msgspec.Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET


class TransitionRequest(CamelStruct):
    """One status move, named by ``event`` (as the sync outbox does) or by the target status ``to``.

    ``reason`` is the cancel reason for ``cancel`` (and a free note for other moves). The schedule
    move may carry the window and the technicians; ``complete`` the closing notes and the minutes.
    """

    event: JobEvent | None = None
    to: JobStatus | None = None
    reason: LongText | None = None
    device_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None
    scheduled_start: datetime.datetime | None = None
    scheduled_end: datetime.datetime | None = None
    technician_ids: TechnicianIds | None = None
    completion_notes: LongText | None = None
    actual_minutes: Minutes | None = None


class AssignRequest(CamelStruct):
    """The job's technicians from now on (replaces the current ones; empty unassigns everyone)."""

    technician_ids: TechnicianIds


class RescheduleRequest(CamelStruct):
    scheduled_start: datetime.datetime | None
    scheduled_end: datetime.datetime | None = None


class Assignment(CamelStruct):
    technician_id: uuid.UUID
    full_name: str | None
    assigned_at: datetime.datetime


class JobLine(CamelStruct):
    id: uuid.UUID
    pricebook_item_id: uuid.UUID | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    iva_rate: Decimal
    net_amount: Decimal
    iva_amount: Decimal
    total_amount: Decimal


class JobNote(CamelStruct):
    id: uuid.UUID
    author_id: uuid.UUID | None
    body: str
    created_at: datetime.datetime


class StatusEvent(CamelStruct):
    id: uuid.UUID
    from_status: JobStatus | None
    to_status: JobStatus
    actor_id: uuid.UUID | None
    device_id: str | None
    reason: str | None
    lat: float | None
    lng: float | None
    occurred_at: datetime.datetime


class JobSummary(CamelStruct):
    """A job in a list."""

    id: uuid.UUID
    customer_id: uuid.UUID
    address_id: uuid.UUID | None
    title: str
    service_type: str | None
    priority: JobPriority
    status: JobStatus
    scheduled_start: datetime.datetime | None
    scheduled_end: datetime.datetime | None
    technician_ids: list[uuid.UUID]
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class Job(CamelStruct):
    """A job with everything about it; ``allowed_events`` are the moves the caller may make now."""

    id: uuid.UUID
    customer_id: uuid.UUID
    address_id: uuid.UUID | None
    title: str
    description: str | None
    service_type: str | None
    priority: JobPriority
    status: JobStatus
    scheduled_start: datetime.datetime | None
    scheduled_end: datetime.datetime | None
    estimated_minutes: int | None
    actual_minutes: int | None
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None
    cancel_reason: str | None
    completion_notes: str | None
    created_by_id: uuid.UUID | None
    version: int
    assignments: list[Assignment]
    lines: list[JobLine]
    notes: list[JobNote]
    status_events: list[StatusEvent]
    allowed_events: list[JobEvent]
    net_amount: Decimal
    iva_amount: Decimal
    total_amount: Decimal
    created_at: datetime.datetime
    updated_at: datetime.datetime


class JobPage(CamelStruct):
    items: list[JobSummary]
    total: int
    limit: int
    offset: int
