"""Wire contracts of dispatch: the day board (technicians × slots), the calendar and double-bookings.

Times are instants (ISO 8601 with offset); days are America/Argentina/Buenos_Aires calendar days.
A job's ``end`` is its scheduled end, else its start plus its estimated minutes (else 60 minutes):
``end_estimated`` says which.
"""

from __future__ import annotations

import datetime
import uuid

from shared.schemas.base import CamelStruct
from shared.states.job import JobPriority, JobStatus


class Slot(CamelStruct):
    index: int
    start: datetime.datetime
    end: datetime.datetime


class BoardJob(CamelStruct):
    """A scheduled job on the board or the calendar; ``slots`` are the board slots it overlaps."""

    id: uuid.UUID
    title: str
    status: JobStatus
    priority: JobPriority
    customer_id: uuid.UUID
    customer_name: str
    start: datetime.datetime
    end: datetime.datetime
    end_estimated: bool
    technician_ids: list[uuid.UUID]
    version: int
    slots: list[int]


class UnscheduledJob(CamelStruct):
    """A pending job without a time yet (to drag onto the board)."""

    id: uuid.UUID
    title: str
    status: JobStatus
    priority: JobPriority
    customer_id: uuid.UUID
    customer_name: str
    estimated_minutes: int | None
    technician_ids: list[uuid.UUID]
    version: int
    created_at: datetime.datetime


class TechnicianLane(CamelStruct):
    technician_id: uuid.UUID
    full_name: str
    jobs: list[BoardJob]


class ConflictJob(CamelStruct):
    id: uuid.UUID
    title: str
    status: JobStatus
    start: datetime.datetime
    end: datetime.datetime


class Conflict(CamelStruct):
    """A technician double-booked: two non-cancelled jobs whose windows overlap."""

    technician_id: uuid.UUID
    technician_name: str | None
    first: ConflictJob
    second: ConflictJob
    overlap_start: datetime.datetime
    overlap_end: datetime.datetime


class Board(CamelStruct):
    """One day of dispatch: every active technician's lane, the unassigned and unscheduled jobs, conflicts.

    ``opens``/``closes`` come from the organisation's working hours for that weekday (08:00–18:00 when
    the day has none: ``working_day`` is then false). Cancelled jobs are left off the board.
    """

    date: datetime.date
    slot_minutes: int
    opens: str
    closes: str
    working_day: bool
    slots: list[Slot]
    technicians: list[TechnicianLane]
    unassigned: list[BoardJob]
    unscheduled: list[UnscheduledJob]
    conflicts: list[Conflict]


class CalendarDay(CamelStruct):
    date: datetime.date
    jobs: list[BoardJob]


class Calendar(CamelStruct):
    """Scheduled, non-cancelled jobs from ``from_date`` to ``to_date`` (inclusive), every day listed."""

    from_date: datetime.date
    to_date: datetime.date
    technician_id: uuid.UUID | None
    days: list[CalendarDay]


class ConflictList(CamelStruct):
    from_date: datetime.date
    to_date: datetime.date
    items: list[Conflict]
