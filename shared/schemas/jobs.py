"""Wire contracts of jobs: create, edit, read, list, status moves, assignment and scheduling."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated

import msgspec

from shared.pricing import Complexity
from shared.schemas.base import CamelStruct
from shared.schemas.pricebook import PriceStep
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
    """A billable line: from the price book or free text.

    A price book line takes the item's description and IVA, and its unit price resolved for the
    customer address's zone and the job's complexity; an explicit ``unitPrice`` on a price book line
    overrides that and is for those who may edit the price book (owner, admin). A free-text line
    needs a description and a unit price.
    """

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
    complexity: Complexity = Complexity.NORMAL
    technician_ids: TechnicianIds = msgspec.field(default_factory=list)
    lines: Annotated[list[LineInput], msgspec.Meta(max_length=200)] = msgspec.field(default_factory=list)


class JobUpdate(CamelStruct):
    """Editable while the job is open (not completed or cancelled); ``lines`` replaces them all.

    A new ``complexity`` re-prices the price book lines that were not priced by hand.
    """

    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: LongText | msgspec.UnsetType | None = msgspec.UNSET
    service_type: ServiceType | msgspec.UnsetType | None = msgspec.UNSET
    priority: JobPriority | msgspec.UnsetType = msgspec.UNSET
    estimated_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET
    complexity: Complexity | msgspec.UnsetType = msgspec.UNSET
    lines: Annotated[list[LineInput], msgspec.Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET


class MaterialInput(CamelStruct):
    """A material used on the job (recorded with the completion; the billable lines stay as they are)."""

    description: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    pricebook_item_id: uuid.UUID | None = None
    quantity: Quantity = Decimal("1")
    unit: Annotated[str, msgspec.Meta(max_length=20)] | None = None


class Material(CamelStruct):
    description: str
    pricebook_item_id: uuid.UUID | None
    quantity: Decimal
    unit: str | None


class TransitionRequest(CamelStruct):
    """One status move, named by ``event`` (as the sync outbox does) or by the target status ``to``.

    ``reason`` is the cancel reason for ``cancel`` (and a free note for other moves). The schedule
    move may carry the window and the technicians; ``complete`` the closing notes, the minutes and the
    materials used.
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
    materials: Annotated[list[MaterialInput], msgspec.Meta(max_length=100)] | None = None


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
    price_source: str  # manual | base | zone_multiplier | zone_override
    price_zone: str | None  # the price list's zone that priced it, if one did
    price_complexity: Complexity | None  # the job's complexity when it was priced (price book lines)
    price_breakdown: list[PriceStep]  # the steps of the resolution (empty when typed in)
    list_unit_price: Decimal | None  # an admin's price on a price book line: what the list said then


class NoteCreate(CamelStruct):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    device_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class JobNote(CamelStruct):
    id: uuid.UUID
    author_id: uuid.UUID | None
    author_name: str | None
    body: str
    device_id: str | None
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
    complexity: Complexity
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
    materials: list[Material]
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
