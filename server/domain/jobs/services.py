"""Jobs: create, list, read, edit, status moves (the shared state machine decides), assign, reschedule.

Every write records the audit chain with before/after. A status move is checked by
``shared.states.job.check_event`` with the job's facts as they would be after the move; on success it
records a ``JobStatusEvent`` (who, when, device, GPS, reason), bumps ``version`` and publishes
``JobStatusChanged`` after the commit, whose subscriber queues the side effects (never inline).

Reads and writes run in the caller's tenant (row-level security): another organisation's id looks
exactly like a missing one. A technician (``JOBS_READ_OWN`` without ``JOBS_READ_ALL``) only ever sees
the jobs assigned to them: another job's id is a 404 to them as well.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import Customer, CustomerAddress, User
from server.db.models.job import Job, JobAssignment, JobLine, JobNote, JobPhoto, JobSignature, JobStatusEvent
from server.db.models.organization import Organization
from server.db.models.pricebook import PriceBookItem
from server.domain.audit.services import record_by
from server.domain.jobs.events import JobStatusChanged
from server.domain.pricebook.services import price_for
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.events import publish_after_commit
from server.lib.pagination import check_offset, clamp_limit
from shared.errors import ErrorCode
from shared.permissions import Permission, has_permission
from shared.pricing import DEFAULT_IVA_RATE, MAX_QUANTITY_DECIMALS, Complexity, check_iva_rate, line_totals
from shared.roles import Role
from shared.schemas import jobs as wire
from shared.schemas.pricebook import PriceStep
from shared.states.job import (
    JobEvent,
    JobFacts,
    JobPriority,
    JobStatus,
    TransitionCheck,
    TransitionRefusal,
    allowed_events,
    check_event,
    check_transition,
    target_of,
)

LOCAL_TZ = ZoneInfo("America/Argentina/Buenos_Aires")
CLOSED = frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED})

# REQUIRED_FIELDS names → the request field a client sends to provide them.
WIRE_FIELDS: dict[str, str] = {
    "scheduled_start": "scheduledStart",
    "technician_ids": "technicianIds",
    "completion_notes": "completionNotes",
    "photos": "photos",
    "signature": "signature",
    "actual_minutes": "actualMinutes",
    "cancel_reason": "reason",
}

MANUAL_PRICE = "manual"  # a line's price_source when the unit price was typed in
CENT = Decimal("0.01")


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def reads_all(ctx: RequestContext) -> bool:
    return has_permission(ctx.role, Permission.JOBS_READ_ALL)


# ---------------------------------------------------------------------------------------------- wire


def _line_wire(line: JobLine) -> wire.JobLine:
    totals = line_totals(line.quantity, line.unit_price, Decimal("0"), line.iva_rate)
    derivation = line.price_derivation or {}
    source = line.price_source or MANUAL_PRICE
    priced = source != MANUAL_PRICE  # zone and complexity say what priced the line; a typed price has neither
    complexity = derivation.get("complexity") if priced else None
    list_price = derivation.get("listUnitPrice")
    return wire.JobLine(
        id=line.id,
        pricebook_item_id=line.pricebook_item_id,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        iva_rate=line.iva_rate,
        net_amount=totals.net,
        iva_amount=totals.iva,
        total_amount=totals.total,
        price_source=source,
        price_zone=derivation.get("zone") if priced else None,
        price_complexity=Complexity(complexity) if complexity else None,
        list_unit_price=Decimal(list_price) if list_price else None,
        price_breakdown=[
            PriceStep(name=step["name"], value=Decimal(step["value"]), result=Decimal(step["result"]))
            for step in derivation.get("breakdown", [])
        ],
    )


def _status_event_wire(event: JobStatusEvent) -> wire.StatusEvent:
    return wire.StatusEvent(
        id=event.id,
        from_status=JobStatus(event.from_status) if event.from_status else None,
        to_status=JobStatus(event.to_status),
        actor_id=event.actor_id,
        device_id=event.device_id,
        reason=event.reason,
        lat=float(event.lat) if event.lat is not None else None,
        lng=float(event.lng) if event.lng is not None else None,
        occurred_at=event.occurred_at,
    )


def _snapshot(job: Job) -> dict[str, Any]:
    return {
        "customerId": str(job.customer_id),
        "addressId": str(job.address_id) if job.address_id else None,
        "title": job.title,
        "description": job.description,
        "serviceType": job.service_type,
        "priority": str(job.priority),
        "complexity": str(job.complexity),
        "status": str(job.status),
        "scheduledStart": _iso(job.scheduled_start),
        "scheduledEnd": _iso(job.scheduled_end),
        "estimatedMinutes": job.estimated_minutes,
        "actualMinutes": job.actual_minutes,
        "startedAt": _iso(job.started_at),
        "completedAt": _iso(job.completed_at),
        "cancelledAt": _iso(job.cancelled_at),
        "cancelReason": job.cancel_reason,
        "completionNotes": job.completion_notes,
        "materials": list(job.materials or []),
        "version": job.version,
    }


def _lines_snapshot(lines: Sequence[JobLine]) -> list[dict[str, Any]]:
    return [
        {
            "pricebookItemId": str(line.pricebook_item_id) if line.pricebook_item_id else None,
            "description": line.description,
            "quantity": str(line.quantity),
            "unitPrice": str(line.unit_price),
            "ivaRate": str(line.iva_rate),
            "priceSource": line.price_source,
        }
        for line in lines
    ]


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [k for k in after if after[k] != before.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


async def _audit(
    session: AsyncSession,
    ctx: RequestContext,
    action: str,
    entity_id: uuid.UUID,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    trace_id: str | None,
) -> None:
    await record_by(session, ctx, action, "job", entity_id, before, after, trace_id)


# ---------------------------------------------------------------------------------------------- loading


async def _assigned_ids(session: AsyncSession, job_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(JobAssignment.technician_id)
        .where(JobAssignment.job_id == job_id)
        .order_by(JobAssignment.created_at, JobAssignment.technician_id)
    )
    return list(rows)


async def _lines_of(session: AsyncSession, job_id: uuid.UUID) -> list[JobLine]:
    rows = await session.scalars(
        select(JobLine).where(JobLine.job_id == job_id).order_by(JobLine.created_at, JobLine.id)
    )
    return list(rows)


async def _notes_of(session: AsyncSession, job_id: uuid.UUID) -> list[wire.JobNote]:
    rows = await session.execute(
        select(JobNote, User.full_name)
        .join(User, User.id == JobNote.author_id, isouter=True)
        .where(JobNote.job_id == job_id)
        .order_by(JobNote.created_at, JobNote.id)
    )
    return [_note_wire(note, name) for note, name in rows.all()]


def _note_wire(note: JobNote, author_name: str | None) -> wire.JobNote:
    return wire.JobNote(
        id=note.id,
        author_id=note.author_id,
        author_name=author_name,
        body=note.body,
        device_id=note.device_id,
        created_at=note.created_at,
    )


async def get_job(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, *, lock: bool = False) -> Job:
    """The job, if the caller may see it (a technician: only when assigned); else 404."""
    statement = select(Job).where(Job.id == job_id)
    if lock:
        statement = statement.with_for_update()
    job = await session.scalar(statement)
    if job is None:  # another org's id looks exactly like a missing one
        raise AppError(ErrorCode.NOT_FOUND)
    if not reads_all(ctx) and ctx.user_id not in await _assigned_ids(session, job.id):
        raise AppError(ErrorCode.NOT_FOUND)
    return job


async def _job_for_move(session: AsyncSession, job_id: uuid.UUID) -> Job:
    """The job, locked for a status move (the state machine then says who may move it)."""
    job = await session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise AppError(ErrorCode.NOT_FOUND)
    return job


async def to_job(session: AsyncSession, ctx: RequestContext, job: Job) -> wire.Job:
    assignments = (
        await session.execute(
            select(JobAssignment.technician_id, JobAssignment.created_at, User.full_name)
            .join(User, User.id == JobAssignment.technician_id, isouter=True)
            .where(JobAssignment.job_id == job.id)
            .order_by(JobAssignment.created_at, JobAssignment.technician_id)
        )
    ).all()
    lines = [_line_wire(line) for line in await _lines_of(session, job.id)]
    notes = await _notes_of(session, job.id)
    events = await session.scalars(
        select(JobStatusEvent)
        .where(JobStatusEvent.job_id == job.id)
        .order_by(JobStatusEvent.occurred_at, JobStatusEvent.id)
    )
    is_assigned = ctx.user_id is not None and any(a.technician_id == ctx.user_id for a in assignments)
    return wire.Job(
        id=job.id,
        customer_id=job.customer_id,
        address_id=job.address_id,
        title=job.title,
        description=job.description,
        service_type=job.service_type,
        priority=job.priority,
        complexity=job.complexity,
        status=job.status,
        scheduled_start=job.scheduled_start,
        scheduled_end=job.scheduled_end,
        estimated_minutes=job.estimated_minutes,
        actual_minutes=job.actual_minutes,
        started_at=job.started_at,
        completed_at=job.completed_at,
        cancelled_at=job.cancelled_at,
        cancel_reason=job.cancel_reason,
        completion_notes=job.completion_notes,
        materials=[msgspec.convert(m, wire.Material) for m in job.materials or []],
        created_by_id=job.created_by_id,
        version=job.version,
        assignments=[
            wire.Assignment(technician_id=a.technician_id, full_name=a.full_name, assigned_at=a.created_at)
            for a in assignments
        ],
        lines=lines,
        notes=notes,
        status_events=[_status_event_wire(e) for e in events],
        allowed_events=allowed_events(job.status, ctx.role, is_assigned),
        net_amount=sum((line.net_amount for line in lines), Decimal("0.00")),
        iva_amount=sum((line.iva_amount for line in lines), Decimal("0.00")),
        total_amount=sum((line.total_amount for line in lines), Decimal("0.00")),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


async def read_job(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID) -> wire.Job:
    return await to_job(session, ctx, await get_job(session, ctx, job_id))


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """A calendar day in Buenos Aires as [start, end) instants (compared with the timestamptz column as is)."""
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=LOCAL_TZ)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=LOCAL_TZ)
    return start, end


_LIST_ORDER = "{t}.scheduled_start ASC NULLS LAST, {t}.created_at DESC, {t}.id"


async def list_jobs(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    status: Sequence[JobStatus] | None = None,
    day: datetime.date | None = None,
    technician_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int | None = 50,
    offset: int | None = 0,
) -> wire.JobPage:
    """One page of jobs and the total, in one statement and one round trip (a hot read path).

    The count and the page are one query (the page joined laterally to the count, so an empty page
    still carries the total); each job's technician ids come as an array in assignment order. It runs
    on the session's own connection, inside its transaction (and so its tenant context: row-level
    security filters every table), through the driver: no ORM entities for a read-only list. Filters
    compare like types (timestamptz bounds with the timestamptz column), so ``ix_jobs_org_start``
    serves a day under row-level security.
    """
    page_limit, page_offset = clamp_limit(limit), check_offset(offset)
    params: list[Any] = []

    def param(value: Any, cast: str = "") -> str:
        params.append(value)
        return f"${len(params)}{cast}"

    where = ["true"]
    if not reads_all(ctx):  # a technician only ever gets their own jobs, whatever they ask
        where.append(
            "EXISTS (SELECT 1 FROM job_assignments a WHERE a.job_id = j.id"  # noqa: S608 (constant SQL, $n params)
            f" AND a.technician_id = {param(ctx.user_id, '::uuid')})"
        )
    if technician_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM job_assignments a WHERE a.job_id = j.id"  # noqa: S608 (constant SQL, $n params)
            f" AND a.technician_id = {param(technician_id, '::uuid')})"
        )
    if status:
        where.append(f"j.status = ANY({param([str(s) for s in status], '::job_status[]')})")
    if customer_id is not None:
        where.append(f"j.customer_id = {param(customer_id, '::uuid')}")
    if day is not None:
        start, end = day_bounds(day)
        where.append(f"j.scheduled_start >= {param(start)} AND j.scheduled_start < {param(end)}")
    condition = " AND ".join(where)
    sql = (  # constant fragments only: every value is a $n parameter
        "SELECT t.total, p.id, p.customer_id, p.address_id, p.title, p.service_type, p.priority, p.status,"  # noqa: S608
        " p.scheduled_start, p.scheduled_end, p.version, p.created_at, p.updated_at,"
        " ARRAY(SELECT a.technician_id FROM job_assignments a WHERE a.job_id = p.id"
        " ORDER BY a.created_at, a.technician_id) AS technician_ids"
        f" FROM (SELECT count(*) AS total FROM jobs j WHERE {condition}) AS t"
        " LEFT JOIN LATERAL ("
        "SELECT j.id, j.customer_id, j.address_id, j.title, j.service_type, j.priority, j.status,"
        " j.scheduled_start, j.scheduled_end, j.version, j.created_at, j.updated_at"
        f" FROM jobs j WHERE {condition} ORDER BY {_LIST_ORDER.format(t='j')}"
        f" LIMIT {param(page_limit, '::bigint')} OFFSET {param(page_offset, '::bigint')}"
        f") AS p ON true ORDER BY {_LIST_ORDER.format(t='p')}"
    )
    connection = await session.connection()  # begins the transaction: the tenant context is set
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    rows = await driver.fetch(sql, *params)
    total = int(rows[0]["total"]) if rows else 0
    items = [
        wire.JobSummary(
            id=row["id"],
            customer_id=row["customer_id"],
            address_id=row["address_id"],
            title=row["title"],
            service_type=row["service_type"],
            priority=JobPriority(row["priority"]),
            status=JobStatus(row["status"]),
            scheduled_start=row["scheduled_start"],
            scheduled_end=row["scheduled_end"],
            technician_ids=list(row["technician_ids"]),
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
        if row["id"] is not None
    ]
    return wire.JobPage(items=items, total=total, limit=page_limit, offset=page_offset)


# ---------------------------------------------------------------------------------------------- rules


async def _check_technicians(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """``ids`` without duplicates, each an active technician of the organisation (else 422 naming the others)."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return unique
    found = set(
        await session.scalars(
            select(User.id).where(User.id.in_(unique), User.role == Role.TECHNICIAN, User.is_active.is_(True))
        )
    )
    invalid = [str(i) for i in unique if i not in found]
    if invalid:
        raise AppError(ErrorCode.JOB_TECHNICIAN_INVALID, details={"key": "technicianIds", "invalid": invalid})
    return unique


def _check_window(start: datetime.datetime | None, end: datetime.datetime | None) -> None:
    if end is not None and (start is None or end <= start):
        raise AppError(
            ErrorCode.JOB_SCHEDULE_INVALID,
            details={"key": "scheduledEnd", "scheduledStart": _iso(start), "scheduledEnd": _iso(end)},
        )


async def _pricebook_items(session: AsyncSession, ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, PriceBookItem]:
    """The price book items named by ``ids`` (None skipped; an unknown id is simply absent), in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {item.id: item for item in await session.scalars(select(PriceBookItem).where(PriceBookItem.id.in_(wanted)))}


async def _pricing_zone(session: AsyncSession, job: Job) -> str | None:
    """The price list zone of the job's address (the customer's default address when the job names none)."""
    if job.address_id is not None:
        address = await session.get(CustomerAddress, job.address_id)
    else:
        address = await session.scalar(
            select(CustomerAddress)
            .where(CustomerAddress.customer_id == job.customer_id, CustomerAddress.is_default.is_(True))
            .limit(1)
        )
    zone = address.zone.strip() if address is not None and address.zone else ""
    return zone or None


async def _resolve(
    session: AsyncSession, item: PriceBookItem, zone: str | None, complexity: Complexity, key: str
) -> tuple[Decimal, str, dict[str, Any]]:
    """The item's unit price for the zone and complexity (shared.pricing), its source and how it came about."""
    try:
        resolved = await price_for(session, item.id, zone, complexity)
    except (TypeError, ValueError) as exc:
        raise AppError(ErrorCode.JOB_LINE_INVALID, details={"key": key, "problem": str(exc)}) from None
    derivation = {
        "zone": resolved.zone,
        "complexity": str(complexity),
        "breakdown": [{"name": s.name, "value": str(s.value), "result": str(s.result)} for s in resolved.breakdown],
    }
    return resolved.unit_price, resolved.source, derivation


def _explicit_price(value: Decimal | None, key: str) -> Decimal | None:
    """A unit price typed in, in cents (a price with fractions of a cent is refused, never rounded silently)."""
    if value is None or not value.is_finite():
        return value
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise AppError(
            ErrorCode.JOB_LINE_INVALID,
            "El precio unitario de una línea tiene como máximo 2 decimales.",
            details={"key": f"{key}.unitPrice", "problem": "more than 2 decimals"},
        )
    return value.quantize(CENT)


async def _build_lines(
    session: AsyncSession,
    ctx: RequestContext,
    job: Job,
    inputs: Sequence[wire.LineInput],
    current: Sequence[JobLine] = (),
) -> list[JobLine]:
    """The job's lines. A price book line is priced by the price book for the job's zone and complexity;
    an explicit unit price on it is an override, for those who may edit the price book (else 403 unless
    it is the list's own price, or the price the job's ``current`` line for that item already has: an
    edit that sends the lines back keeps an admin's price). A free-text line carries its own description
    and price."""
    assert ctx.org_id is not None
    items = await _pricebook_items(session, [i.pricebook_item_id for i in inputs])
    zone = await _pricing_zone(session, job) if items else None
    complexity = Complexity(job.complexity)
    may_set_prices = has_permission(ctx.role, Permission.PRICEBOOK_WRITE)
    kept = {
        (line.pricebook_item_id, Decimal(line.unit_price)): line.price_derivation
        for line in current
        if line.pricebook_item_id is not None and line.price_source == MANUAL_PRICE
    }
    resolved: dict[uuid.UUID, tuple[Decimal, str, dict[str, Any]]] = {}
    lines: list[JobLine] = []
    for index, data in enumerate(inputs):
        key = f"lines[{index}]"
        item = items.get(data.pricebook_item_id) if data.pricebook_item_id else None
        if data.pricebook_item_id is not None and item is None:
            raise AppError(ErrorCode.JOB_REFERENCE_INVALID, details={"key": f"{key}.pricebookItemId"})
        description = data.description or (item.name if item else None)
        unit_price = _explicit_price(data.unit_price, key)
        source, derivation = MANUAL_PRICE, None
        if item is not None:
            if item.id not in resolved:
                resolved[item.id] = await _resolve(session, item, zone, complexity, key)
            list_price, list_source, list_derivation = resolved[item.id]
            if unit_price is None or unit_price == list_price:
                unit_price, source, derivation = list_price, list_source, list_derivation
            elif (item.id, unit_price) in kept:  # an override already on the job, sent back as it was
                derivation = kept[(item.id, unit_price)]
            elif not may_set_prices:
                raise AppError(
                    ErrorCode.PERMISSION_DENIED,
                    "Sólo el dueño o un administrador puede cambiar el precio de un ítem de la lista de precios."
                    " Quitá el precio unitario para usar el de la lista.",
                    details={"key": f"{key}.unitPrice", "listUnitPrice": str(list_price)},
                )
            else:  # an admin's price: kept as given, with what the list would have said
                derivation = {
                    "zone": list_derivation["zone"],
                    "complexity": str(complexity),
                    "listUnitPrice": str(list_price),
                }
        if not description or unit_price is None:
            missing = [k for k, v in (("description", description), ("unitPrice", unit_price)) if v is None or v == ""]
            raise AppError(ErrorCode.JOB_LINE_INVALID, details={"key": key, "missing": missing})
        iva_rate = data.iva_rate if data.iva_rate is not None else (item.iva_rate if item else DEFAULT_IVA_RATE)
        try:
            check_iva_rate(iva_rate)
            line_totals(data.quantity, unit_price, Decimal("0"), iva_rate)
        except (TypeError, ValueError) as exc:
            raise AppError(ErrorCode.JOB_LINE_INVALID, details={"key": key, "problem": str(exc)}) from None
        lines.append(
            JobLine(
                org_id=ctx.org_id,
                job_id=job.id,
                pricebook_item_id=item.id if item else None,
                description=description.strip(),
                quantity=data.quantity,
                unit_price=unit_price,
                iva_rate=iva_rate,
                price_source=source,
                price_derivation=derivation,
            )
        )
    return lines


async def _reprice(session: AsyncSession, job: Job, lines: Sequence[JobLine]) -> None:
    """Price again, for the job's zone and complexity now, the price book lines not priced by hand."""
    zone: str | None = None
    zone_known = False
    for index, line in enumerate(lines):
        if line.pricebook_item_id is None or line.price_source == MANUAL_PRICE:
            continue
        item = await session.get(PriceBookItem, line.pricebook_item_id)
        if item is None:
            continue
        if not zone_known:
            zone, zone_known = await _pricing_zone(session, job), True
        unit_price, source, derivation = await _resolve(
            session, item, zone, Complexity(job.complexity), f"lines[{index}]"
        )
        line.unit_price, line.price_source, line.price_derivation = unit_price, source, derivation


async def _replace_assignments(
    session: AsyncSession, ctx: RequestContext, job: Job, technician_ids: Sequence[uuid.UUID]
) -> None:
    assert ctx.org_id is not None
    current = await session.scalars(select(JobAssignment).where(JobAssignment.job_id == job.id))
    keep = set(technician_ids)
    existing: set[uuid.UUID] = set()
    for assignment in current:
        if assignment.technician_id in keep:
            existing.add(assignment.technician_id)
        else:
            await session.delete(assignment)
    session.add_all(
        JobAssignment(org_id=ctx.org_id, job_id=job.id, technician_id=t) for t in technician_ids if t not in existing
    )
    await session.flush()


async def _org_settings(session: AsyncSession, ctx: RequestContext) -> dict[str, Any]:
    org = await session.get(Organization, ctx.org_id) if ctx.org_id else None
    return dict(org.settings or {}) if org is not None else {}


# ---------------------------------------------------------------------------------------------- writes


async def create_job(
    session: AsyncSession, ctx: RequestContext, data: wire.JobCreate, trace_id: str | None
) -> wire.Job:
    assert ctx.org_id is not None
    if await session.get(Customer, data.customer_id) is None:
        raise AppError(ErrorCode.JOB_REFERENCE_INVALID, details={"key": "customerId"})
    if data.address_id is not None:
        address = await session.get(CustomerAddress, data.address_id)
        if address is None or address.customer_id != data.customer_id:
            raise AppError(ErrorCode.JOB_REFERENCE_INVALID, details={"key": "addressId"})
    _check_window(data.scheduled_start, data.scheduled_end)
    technicians = await _check_technicians(session, data.technician_ids)
    job = Job(
        org_id=ctx.org_id,
        customer_id=data.customer_id,
        address_id=data.address_id,
        title=data.title.strip(),
        description=data.description,
        service_type=data.service_type,
        priority=data.priority,
        complexity=data.complexity,
        status=JobStatus.PENDING,
        scheduled_start=data.scheduled_start,
        scheduled_end=data.scheduled_end,
        estimated_minutes=data.estimated_minutes,
        created_by_id=ctx.user_id,
        materials=[],
        version=1,
    )
    session.add(job)
    await session.flush()
    lines = await _build_lines(session, ctx, job, data.lines)
    session.add_all(lines)
    session.add_all(JobAssignment(org_id=ctx.org_id, job_id=job.id, technician_id=t) for t in technicians)
    session.add(
        JobStatusEvent(org_id=ctx.org_id, job_id=job.id, from_status=None, to_status=job.status, actor_id=ctx.user_id)
    )
    await session.flush()
    await session.refresh(job)
    after = _snapshot(job) | {"technicianIds": [str(t) for t in technicians], "lines": _lines_snapshot(lines)}
    await _audit(session, ctx, "job.created", job.id, None, after, trace_id)
    return await to_job(session, ctx, job)


async def update_job(
    session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, data: wire.JobUpdate, trace_id: str | None
) -> wire.Job:
    job = await get_job(session, ctx, job_id, lock=True)
    if job.status in CLOSED:
        raise AppError(ErrorCode.JOB_CLOSED, details={"status": str(job.status)})
    before = _snapshot(job)
    old_lines = await _lines_of(session, job.id)
    before["lines"] = _lines_snapshot(old_lines)
    for field in ("title", "description", "service_type", "priority", "estimated_minutes", "complexity"):
        value = getattr(data, field)
        if value is not msgspec.UNSET:
            setattr(job, field, value.strip() if field == "title" and isinstance(value, str) else value)
    new_lines = old_lines
    if data.lines is not msgspec.UNSET:
        new_lines = await _build_lines(session, ctx, job, data.lines, old_lines)
        for line in old_lines:
            await session.delete(line)
        await session.flush()
        session.add_all(new_lines)
    elif str(job.complexity) != before["complexity"]:
        await _reprice(session, job, old_lines)
    await session.flush()
    after = _snapshot(job) | {"lines": _lines_snapshot(new_lines)}
    if after != before:
        job.version += 1
        await session.flush()
        await session.refresh(job)
        after["version"] = job.version
        await _audit(session, ctx, "job.updated", job.id, *_changes(before, after), trace_id)
    return await to_job(session, ctx, job)


async def assign(
    session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, data: wire.AssignRequest, trace_id: str | None
) -> wire.Job:
    job = await get_job(session, ctx, job_id, lock=True)
    if job.status in CLOSED:
        raise AppError(ErrorCode.JOB_CLOSED, details={"status": str(job.status)})
    technicians = await _check_technicians(session, data.technician_ids)
    before = await _assigned_ids(session, job.id)
    if set(before) != set(technicians):
        await _replace_assignments(session, ctx, job, technicians)
        job.version += 1
        await session.flush()
        await session.refresh(job)
        await _audit(
            session,
            ctx,
            "job.assigned",
            job.id,
            {"technicianIds": sorted(str(t) for t in before)},
            {"technicianIds": sorted(str(t) for t in technicians), "version": job.version},
            trace_id,
        )
    return await to_job(session, ctx, job)


async def reschedule(
    session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, data: wire.RescheduleRequest, trace_id: str | None
) -> wire.Job:
    job = await get_job(session, ctx, job_id, lock=True)
    if job.status in CLOSED:
        raise AppError(ErrorCode.JOB_CLOSED, details={"status": str(job.status)})
    if data.scheduled_start is None and job.status is not JobStatus.PENDING:
        # a scheduled job keeps a time: take it off the agenda with the unschedule move instead
        raise AppError(
            ErrorCode.JOB_SCHEDULE_INVALID,
            "Un trabajo agendado necesita fecha y hora. Para sacarlo de la agenda, desagendalo.",
            details={"key": "scheduledStart", "status": str(job.status)},
        )
    _check_window(data.scheduled_start, data.scheduled_end)
    before = {"scheduledStart": _iso(job.scheduled_start), "scheduledEnd": _iso(job.scheduled_end)}
    job.scheduled_start, job.scheduled_end = data.scheduled_start, data.scheduled_end
    await session.flush()
    await session.refresh(job)
    after = {"scheduledStart": _iso(job.scheduled_start), "scheduledEnd": _iso(job.scheduled_end)}
    if after != before:
        job.version += 1
        await session.flush()
        await session.refresh(job)
        await _audit(session, ctx, "job.rescheduled", job.id, before, after | {"version": job.version}, trace_id)
    return await to_job(session, ctx, job)


# ---------------------------------------------------------------------------------------------- moves


def _materials_invalid(key: str, message: str) -> AppError:
    return AppError(ErrorCode.VALIDATION_FAILED, message, details=[{"key": key, "problem": "invalid"}])


async def _build_materials(session: AsyncSession, inputs: Sequence[wire.MaterialInput]) -> list[dict[str, Any]]:
    """The materials used, as stored on the job (decimals as strings); a price book item lends its name and unit."""
    items = await _pricebook_items(session, [m.pricebook_item_id for m in inputs])
    materials: list[dict[str, Any]] = []
    for index, data in enumerate(inputs):
        key = f"materials[{index}]"
        item = items.get(data.pricebook_item_id) if data.pricebook_item_id else None
        if data.pricebook_item_id is not None and item is None:
            raise AppError(ErrorCode.JOB_REFERENCE_INVALID, details={"key": f"{key}.pricebookItemId"})
        description = (data.description or (item.name if item else "")).strip()
        if not description:
            raise _materials_invalid(
                f"{key}.description", "Indicá qué material se usó (descripción o ítem de la lista)."
            )
        quantity = data.quantity
        exponent = quantity.normalize().as_tuple().exponent if quantity.is_finite() else 0
        too_precise = isinstance(exponent, int) and -exponent > MAX_QUANTITY_DECIMALS
        if not quantity.is_finite() or quantity <= 0 or too_precise:
            raise _materials_invalid(
                f"{key}.quantity", "La cantidad de material tiene que ser mayor que cero, con hasta 3 decimales."
            )
        materials.append(
            {
                "description": description,
                "pricebookItemId": str(item.id) if item else None,
                "quantity": f"{quantity.normalize():f}",
                "unit": data.unit or (item.unit if item else None),
            }
        )
    return materials


def _refuse(check: TransitionCheck, ctx: RequestContext, is_assigned: bool) -> AppError:
    details = check.details()
    if check.reason is TransitionRefusal.TRANSITION_NOT_ALLOWED:
        details["allowedEvents"] = [str(e) for e in allowed_events(check.current, ctx.role, is_assigned)]
        return AppError(ErrorCode.JOB_TRANSITION_NOT_ALLOWED, details=details)
    if check.reason is TransitionRefusal.ROLE_NOT_ALLOWED:
        return AppError(ErrorCode.JOB_TRANSITION_ROLE, details=details | {"role": ctx.role})
    if check.reason is TransitionRefusal.NOT_ASSIGNED:
        return AppError(ErrorCode.JOB_NOT_ASSIGNED, details=details)
    details["fields"] = [WIRE_FIELDS.get(f, f) for f in check.missing_fields]
    details["anyOf"] = [[WIRE_FIELDS.get(f, f) for f in group] for group in check.missing]
    return AppError(ErrorCode.JOB_MISSING_FIELDS, check.message, details=details)


def _resolve_event(data: wire.TransitionRequest) -> JobEvent | None:
    if data.event is None and data.to is None:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "Indicá el cambio de estado: el evento o el estado de destino.",
            details=[{"key": "event", "problem": "required"}],
        )
    if data.event is not None and data.to is not None and target_of(data.event) != data.to:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "El evento y el estado de destino no coinciden.",
            details=[
                {
                    "key": "to",
                    "problem": "mismatch",
                    "event": str(data.event),
                    "eventTarget": str(target_of(data.event)),
                }
            ],
        )
    return data.event


async def transition(
    session: AsyncSession,
    ctx: RequestContext,
    job_id: uuid.UUID,
    data: wire.TransitionRequest,
    trace_id: str | None,
) -> wire.Job:
    assert ctx.org_id is not None
    event = _resolve_event(data)
    job = await _job_for_move(session, job_id)
    assigned = await _assigned_ids(session, job.id)
    is_assigned = ctx.user_id in assigned  # a technician on another's job: 403 job_not_assigned
    current = JobStatus(job.status)
    target = target_of(event) if event is not None else data.to
    assert target is not None
    settings = await _org_settings(session, ctx)
    photos = signature = 0
    if target is JobStatus.COMPLETED:
        photos = int(await session.scalar(select(func.count()).where(JobPhoto.job_id == job.id)) or 0)
        signature = int(await session.scalar(select(func.count()).where(JobSignature.job_id == job.id)) or 0)
    schedules = event is JobEvent.SCHEDULE or (event is None and target is JobStatus.SCHEDULED)
    facts = JobFacts(
        scheduled_start=(data.scheduled_start if schedules and data.scheduled_start else job.scheduled_start),
        technician_count=(
            len(set(data.technician_ids)) if schedules and data.technician_ids is not None else len(assigned)
        ),
        completion_notes=data.completion_notes or job.completion_notes,
        photo_count=photos,
        has_signature=signature > 0,
        signature_waived=not bool(settings.get("require_signature", True)),
        actual_minutes=data.actual_minutes or job.actual_minutes,
        cancel_reason=data.reason if target is JobStatus.CANCELLED else job.cancel_reason,
    )
    if event is not None:
        check = check_event(current, event, role=ctx.role, is_assigned=is_assigned, facts=facts)
    else:
        check = check_transition(current, target, role=ctx.role, is_assigned=is_assigned, facts=facts)
    if not check:
        raise _refuse(check, ctx, is_assigned)
    assert check.event is not None and check.target is not None
    event, target = check.event, check.target

    before = _snapshot(job) | {"technicianIds": [str(t) for t in assigned]}
    now = utcnow()
    if event is JobEvent.SCHEDULE:
        start = data.scheduled_start or job.scheduled_start
        end = data.scheduled_end if data.scheduled_start or data.scheduled_end else job.scheduled_end
        _check_window(start, end)
        job.scheduled_start, job.scheduled_end = start, end
        if data.technician_ids is not None:
            technicians = await _check_technicians(session, data.technician_ids)
            await _replace_assignments(session, ctx, job, technicians)
            assigned = technicians
    if target is JobStatus.WORKING and job.started_at is None:
        job.started_at = now
    if data.materials is not None and target is not JobStatus.COMPLETED:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "Los materiales usados se registran al completar el trabajo.",
            details=[{"key": "materials", "problem": "only_on_complete"}],
        )
    if target is JobStatus.COMPLETED:
        job.completed_at = now
        if data.materials is not None:
            job.materials = await _build_materials(session, data.materials)
        if data.completion_notes:
            job.completion_notes = data.completion_notes
        if data.actual_minutes:
            job.actual_minutes = data.actual_minutes
    if target is JobStatus.CANCELLED:
        job.cancelled_at = now
        job.cancel_reason = (data.reason or "").strip()
    job.status = target
    job.version += 1
    status_event = JobStatusEvent(
        org_id=ctx.org_id,
        job_id=job.id,
        from_status=current,
        to_status=target,
        actor_id=ctx.user_id,
        device_id=data.device_id,
        reason=data.reason,
        lat=Decimal(str(data.lat)) if data.lat is not None else None,
        lng=Decimal(str(data.lng)) if data.lng is not None else None,
        occurred_at=now,
    )
    session.add(status_event)
    await session.flush()
    await session.refresh(job)
    after = _snapshot(job) | {"technicianIds": [str(t) for t in assigned]}
    changed_before, changed_after = _changes(before, after)
    changed_after["event"] = str(event)
    await _audit(session, ctx, "job.transitioned", job.id, changed_before, changed_after, trace_id)
    lines = await _lines_of(session, job.id) if target is JobStatus.COMPLETED else []
    publish_after_commit(
        session,
        JobStatusChanged(
            org_id=ctx.org_id,
            job_id=job.id,
            customer_id=job.customer_id,
            from_status=current,
            to_status=target,
            event=event,
            actor_id=ctx.user_id,
            status_event_id=status_event.id,
            billable=bool(lines),
            auto_invoice=bool(settings.get("auto_invoice", True)),
        ),
    )
    return await to_job(session, ctx, job)


# ---------------------------------------------------------------------------------------------- notes


async def add_note(
    session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID, data: wire.NoteCreate, trace_id: str | None
) -> wire.JobNote:
    """Append a note to the job (notes are never edited or removed), with its author and device.

    Office staff (``JOBS_WRITE``) note any job; a technician only the jobs assigned to them (another
    job of the organisation is a 403 ``job_not_assigned``, as for status moves). Closed jobs take
    notes too: a follow-up after the visit belongs with the job.
    """
    assert ctx.org_id is not None
    job = await session.scalar(select(Job).where(Job.id == job_id))
    if job is None:
        raise AppError(ErrorCode.NOT_FOUND)
    if not has_permission(ctx.role, Permission.JOBS_WRITE) and ctx.user_id not in await _assigned_ids(session, job.id):
        raise AppError(
            ErrorCode.JOB_NOT_ASSIGNED,
            "Sólo podés agregar notas a los trabajos que tenés asignados.",
            details={"jobId": str(job.id)},
        )
    body = data.body.strip()
    if not body:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "La nota está vacía: escribí algo.",
            details=[{"key": "body", "problem": "blank"}],
        )
    note = JobNote(org_id=ctx.org_id, job_id=job.id, author_id=ctx.user_id, body=body, device_id=data.device_id)
    session.add(note)
    await session.flush()
    await _audit(
        session,
        ctx,
        "job.note_added",
        job.id,
        None,
        {"noteId": str(note.id), "body": body, "deviceId": data.device_id},
        trace_id,
    )
    author = await session.get(User, ctx.user_id) if ctx.user_id else None
    return _note_wire(note, author.full_name if author else None)


async def list_notes(session: AsyncSession, ctx: RequestContext, job_id: uuid.UUID) -> list[wire.JobNote]:
    """The job's notes, oldest first (a job the caller may not see is a 404)."""
    job = await get_job(session, ctx, job_id)
    return await _notes_of(session, job.id)


__all__ = [
    "add_note",
    "assign",
    "create_job",
    "day_bounds",
    "list_jobs",
    "list_notes",
    "read_job",
    "reschedule",
    "transition",
    "update_job",
]
