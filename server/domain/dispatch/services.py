"""Dispatch: the day board, the calendar and double-bookings, read in a constant number of queries.

Days are Buenos Aires calendar days turned into timestamptz bounds by ``jobs.services.day_bounds``
and compared with ``jobs.scheduled_start`` as is (never casting the column), so the
``(org_id, scheduled_start)`` index serves the range under row-level security.

A job occupies ``[scheduled_start, scheduled_end)``, or ``scheduled_start`` plus its estimated minutes
(60 when unknown). Cancelled jobs are left off the board and the calendar and never conflict. Jobs
that started up to ``LOOKBACK`` before a range are read too, so a late job spilling past midnight
still conflicts with an early one of the next day.

The board costs four queries whatever the number of technicians or jobs: the organisation's working
hours, the technicians, the jobs around the day (customer name and technician ids joined in), and
the unscheduled pending jobs.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, Select, exists, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Customer, User
from server.db.models.job import Job, JobAssignment
from server.db.models.organization import Organization
from server.domain.jobs.services import LOCAL_TZ, day_bounds, reads_all
from server.domain.organizations.services import DEFAULT_CLOSES, DEFAULT_OPENS, to_settings
from server.lib.context import RequestContext
from server.lib.errors import AppError
from shared.errors import ErrorCode
from shared.roles import Role
from shared.schemas import dispatch as wire
from shared.states.job import JobPriority, JobStatus

DEFAULT_MINUTES = 60
MAX_RANGE_DAYS = 31
LOOKBACK = datetime.timedelta(days=1)
UNSCHEDULED_LIMIT = 200


@dataclass(frozen=True)
class _Placed:
    """A scheduled job as read for the board, the calendar or the conflicts."""

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


def _technicians_of_job() -> ScalarSelect[list[uuid.UUID] | None]:
    """The job's technician ids in assignment order, as one array column (NULL when none)."""
    return (
        select(
            func.array_agg(
                aggregate_order_by(JobAssignment.technician_id, JobAssignment.created_at, JobAssignment.technician_id)
            )
        )
        .where(JobAssignment.job_id == Job.id)
        .correlate(Job)
        .scalar_subquery()
    )


def _scheduled(start: datetime.datetime, end: datetime.datetime) -> Select[Any]:
    """Non-cancelled jobs starting in ``[start, end)`` (timestamptz to timestamptz), with customer and technicians."""
    return (
        select(
            Job.id,
            Job.title,
            Job.status,
            Job.priority,
            Job.customer_id,
            Customer.name,
            Job.scheduled_start,
            Job.scheduled_end,
            Job.estimated_minutes,
            Job.version,
            _technicians_of_job(),
        )
        .join(Customer, (Customer.org_id == Job.org_id) & (Customer.id == Job.customer_id))
        .where(Job.scheduled_start >= start, Job.scheduled_start < end, Job.status != JobStatus.CANCELLED)
        .order_by(Job.scheduled_start, Job.created_at, Job.id)
    )


def _placed(row: Sequence[object]) -> _Placed:
    (job_id, title, status, priority, customer_id, customer_name, start, end, minutes, version, techs) = row
    assert isinstance(start, datetime.datetime)
    estimated = not isinstance(end, datetime.datetime) or end <= start
    if estimated:
        end = start + datetime.timedelta(
            minutes=minutes if isinstance(minutes, int) and minutes > 0 else DEFAULT_MINUTES
        )
    assert isinstance(end, datetime.datetime)
    return _Placed(
        id=job_id,  # type: ignore[arg-type]
        title=title,  # type: ignore[arg-type]
        status=JobStatus(status),  # type: ignore[arg-type]
        priority=JobPriority(priority),  # type: ignore[arg-type]
        customer_id=customer_id,  # type: ignore[arg-type]
        customer_name=customer_name,  # type: ignore[arg-type]
        start=start.astimezone(LOCAL_TZ),
        end=end.astimezone(LOCAL_TZ),
        end_estimated=estimated,
        technician_ids=list(techs or []),  # type: ignore[call-overload]
        version=version,  # type: ignore[arg-type]
    )


def _board_job(job: _Placed, slots: Sequence[wire.Slot] = ()) -> wire.BoardJob:
    return wire.BoardJob(
        id=job.id,
        title=job.title,
        status=job.status,
        priority=job.priority,
        customer_id=job.customer_id,
        customer_name=job.customer_name,
        start=job.start,
        end=job.end,
        end_estimated=job.end_estimated,
        technician_ids=job.technician_ids,
        version=job.version,
        slots=[s.index for s in slots if s.start < job.end and job.start < s.end],
    )


def _conflict_job(job: _Placed) -> wire.ConflictJob:
    return wire.ConflictJob(id=job.id, title=job.title, status=job.status, start=job.start, end=job.end)


def find_conflicts(
    jobs: Iterable[_Placed],
    names: dict[uuid.UUID, str],
    start: datetime.datetime,
    end: datetime.datetime,
) -> list[wire.Conflict]:
    """Every pair of a technician's jobs whose windows overlap, where the overlap meets ``[start, end)``."""
    by_technician: dict[uuid.UUID, list[_Placed]] = {}
    for job in jobs:
        if job.status == JobStatus.CANCELLED:
            continue
        for technician_id in job.technician_ids:
            by_technician.setdefault(technician_id, []).append(job)
    conflicts: list[wire.Conflict] = []
    for technician_id, own in by_technician.items():
        own.sort(key=lambda j: (j.start, j.end, str(j.id)))
        for i, first in enumerate(own):
            for second in own[i + 1 :]:
                if second.start >= first.end:
                    break  # sorted by start: no later job overlaps ``first`` either
                overlap_start, overlap_end = max(first.start, second.start), min(first.end, second.end)
                if overlap_end > start and overlap_start < end:
                    conflicts.append(
                        wire.Conflict(
                            technician_id=technician_id,
                            technician_name=names.get(technician_id),
                            first=_conflict_job(first),
                            second=_conflict_job(second),
                            overlap_start=overlap_start,
                            overlap_end=overlap_end,
                        )
                    )
    conflicts.sort(key=lambda c: (c.overlap_start, names.get(c.technician_id) or "", str(c.technician_id)))
    return conflicts


def _check_range(from_date: datetime.date, to_date: datetime.date) -> None:
    if to_date < from_date or (to_date - from_date).days + 1 > MAX_RANGE_DAYS:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            f"El rango debe ir de una fecha a otra igual o posterior, de a lo sumo {MAX_RANGE_DAYS} días.",
            details=[
                {"key": "to", "from": from_date.isoformat(), "to": to_date.isoformat(), "maxDays": MAX_RANGE_DAYS}
            ],
        )


def _range_bounds(from_date: datetime.date, to_date: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    return day_bounds(from_date)[0], day_bounds(to_date)[1]


def _hhmm(value: str) -> datetime.time:
    hours, minutes = value.split(":")
    return datetime.time(int(hours), int(minutes))


def _slots(day: datetime.date, opens: str, closes: str, minutes: int) -> list[wire.Slot]:
    start = datetime.datetime.combine(day, _hhmm(opens), tzinfo=LOCAL_TZ)
    close = datetime.datetime.combine(day, _hhmm(closes), tzinfo=LOCAL_TZ)
    step = datetime.timedelta(minutes=minutes)
    slots: list[wire.Slot] = []
    while start < close:
        slots.append(wire.Slot(index=len(slots), start=start, end=min(start + step, close)))
        start += step
    return slots


# ---------------------------------------------------------------------------------------------- board


async def board(session: AsyncSession, ctx: RequestContext, day: datetime.date, slot_minutes: int) -> wire.Board:
    organization = await session.scalar(select(Organization).where(Organization.id == ctx.org_id))
    if organization is None:
        raise AppError(ErrorCode.NOT_FOUND)
    hours = {d.weekday: d for d in to_settings(organization).working_hours}
    today = hours.get(day.weekday())
    opens, closes = (today.opens, today.closes) if today else (DEFAULT_OPENS, DEFAULT_CLOSES)
    slots = _slots(day, opens, closes, slot_minutes)

    technicians = (
        await session.execute(
            select(User.id, User.full_name, User.is_active)
            .where(User.role == Role.TECHNICIAN)
            .order_by(User.full_name, User.id)
        )
    ).all()
    names = {t.id: t.full_name for t in technicians}
    active = [t for t in technicians if t.is_active]

    day_start, day_end = day_bounds(day)
    around = [_placed(row) for row in (await session.execute(_scheduled(day_start - LOOKBACK, day_end))).all()]
    of_day = [job for job in around if job.start >= day_start]

    unscheduled_rows = (
        await session.execute(
            select(
                Job.id,
                Job.title,
                Job.status,
                Job.priority,
                Job.customer_id,
                Customer.name,
                Job.estimated_minutes,
                Job.version,
                Job.created_at,
                _technicians_of_job(),
            )
            .join(Customer, (Customer.org_id == Job.org_id) & (Customer.id == Job.customer_id))
            .where(Job.status == JobStatus.PENDING, Job.scheduled_start.is_(None))
            .order_by(Job.priority.desc(), Job.created_at, Job.id)
            .limit(UNSCHEDULED_LIMIT)
        )
    ).all()

    lanes = {t.id: wire.TechnicianLane(technician_id=t.id, full_name=t.full_name, jobs=[]) for t in active}
    unassigned: list[wire.BoardJob] = []
    for job in of_day:
        placed = _board_job(job, slots)
        in_lanes = [lanes[t] for t in job.technician_ids if t in lanes]
        for lane in in_lanes:
            lane.jobs.append(placed)
        if not in_lanes:  # nobody, or only technicians no longer active: someone must take it
            unassigned.append(placed)

    return wire.Board(
        date=day,
        slot_minutes=slot_minutes,
        opens=opens,
        closes=closes,
        working_day=today is not None,
        slots=slots,
        technicians=list(lanes.values()),
        unassigned=unassigned,
        unscheduled=[
            wire.UnscheduledJob(
                id=r[0],
                title=r[1],
                status=JobStatus(r[2]),
                priority=JobPriority(r[3]),
                customer_id=r[4],
                customer_name=r[5],
                estimated_minutes=r[6],
                version=r[7],
                created_at=r[8],
                technician_ids=list(r[9] or []),
            )
            for r in unscheduled_rows
        ],
        conflicts=find_conflicts(around, names, day_start, day_end),
    )


# ---------------------------------------------------------------------------------------------- calendar


async def calendar(
    session: AsyncSession,
    ctx: RequestContext,
    from_date: datetime.date,
    to_date: datetime.date,
    technician_id: uuid.UUID | None,
) -> wire.Calendar:
    """Jobs by day; a technician (no ``JOBS_READ_ALL``) gets only their own, and asking for another's is a 403."""
    _check_range(from_date, to_date)
    if not reads_all(ctx):
        if technician_id is not None and technician_id != ctx.user_id:
            raise AppError(ErrorCode.PERMISSION_DENIED, details={"key": "technicianId"})
        technician_id = ctx.user_id
    start, end = _range_bounds(from_date, to_date)
    statement = _scheduled(start, end)
    if technician_id is not None:
        statement = statement.where(
            exists().where(JobAssignment.job_id == Job.id, JobAssignment.technician_id == technician_id)
        )
    days: dict[datetime.date, list[wire.BoardJob]] = {
        from_date + datetime.timedelta(days=i): [] for i in range((to_date - from_date).days + 1)
    }
    for row in (await session.execute(statement)).all():
        job = _placed(row)
        days[job.start.date()].append(_board_job(job))  # ``start`` is already Buenos Aires time
    return wire.Calendar(
        from_date=from_date,
        to_date=to_date,
        technician_id=technician_id,
        days=[wire.CalendarDay(date=d, jobs=jobs) for d, jobs in days.items()],
    )


# ---------------------------------------------------------------------------------------------- conflicts


async def conflicts(session: AsyncSession, from_date: datetime.date, to_date: datetime.date) -> wire.ConflictList:
    _check_range(from_date, to_date)
    start, end = _range_bounds(from_date, to_date)
    jobs = [_placed(row) for row in (await session.execute(_scheduled(start - LOOKBACK, end))).all()]
    names = dict(
        (await session.execute(select(User.id, User.full_name).where(User.role == Role.TECHNICIAN))).tuples().all()
    )
    return wire.ConflictList(from_date=from_date, to_date=to_date, items=find_conflicts(jobs, names, start, end))
