"""Offline sync: pull (changes since a cursor), bootstrap (first sync, keyset pages), push (queued operations).

Pull and bootstrap read ``change_seq`` (set by triggers, migration 0010) under the caller's tenant; the
upper bound of a pull is the organisation's counter read first: a change with a lower sequence has
committed by then (the counter row is locked until its writer commits), so nothing is skipped.

Push applies each operation in its own savepoint through the jobs services (same permissions, audit and
events as the API), after claiming its ``opId`` in ``sync_operations``: an id seen before answers its
stored result (``duplicate``). A refusal (``AppError``) rolls back that operation only and becomes a
``rejected`` result with the error's code and Spanish message. The conflict rules are
``shared.sync.conflicts``; a job cancelled on the server while a technician moved it offline is recorded
in ``sync_conflicts`` for the office and answered with the technician's data in ``conflict``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.base import utcnow
from server.db.models import SyncOperation
from server.db.models.tombstone import SyncConflict
from server.domain.audit.services import record_by
from server.domain.jobs import services as jobs
from server.domain.sync.cursor import START, Cursor, decode_cursor, encode_cursor
from server.domain.sync.records import OPEN_STATUSES, RECORDS, Scope, window
from server.lib.context import RequestContext
from server.lib.errors import AppError
from server.lib.logging import get_logger
from shared.errors import ErrorCode, message_of
from shared.schemas import jobs as jobs_wire
from shared.schemas import sync as wire
from shared.states import SyncOperationStatus
from shared.states.job import JobEvent
from shared.sync.conflicts import OFFICE_VISIBLE, ConflictKind, Outcome, decide_transition, is_stale

log = get_logger("campotech.sync")

MAX_WINDOW_SHIFT_DAYS = 30  # a cursor of an older day than this starts over
SYNC_STATEMENT_TIMEOUT = "30s"  # a pull or bootstrap page takes milliseconds; one still running is stuck


def scope_of(ctx: RequestContext, today: datetime.date | None = None) -> Scope:
    """The caller's scope for ``today`` (default: Buenos Aires' date now): a technician (who reads only
    their own jobs) gets theirs, everyone else the org's."""
    assert ctx.org_id is not None
    technician = None if jobs.reads_all(ctx) else ctx.user_id
    return Scope.make(ctx.org_id, technician, today)


async def _head(session: AsyncSession, org_id: uuid.UUID) -> tuple[int, int]:
    """The org's last change sequence and the sequence up to which tombstones were pruned."""
    row = (
        await session.execute(text("SELECT seq, pruned_seq FROM change_seq_heads WHERE org_id = :org"), {"org": org_id})
    ).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def _plan_each_time(session: AsyncSession, *, bulk: bool = False) -> None:
    """Plan this transaction's statements for their actual parameters, and stop a runaway one.

    The driver prepares statements and PostgreSQL switches one run often to a generic plan; for the scope's
    nested conditions such a plan, made while the tables were small or their statistics old, took minutes
    where the plan for the actual technician and window takes milliseconds (planning costs well under a
    millisecond here). A bootstrap page reads thousands of rows: with statistics older than a bulk load
    (an import, a test's seed) even its custom plan chose nested loops that ran for minutes, so bulk reads
    join by hashing (linear whatever the estimates; the per-row record lookups are index probes either way).
    A statement still running after ``SYNC_STATEMENT_TIMEOUT`` is cancelled: the device gets 503
    ``service_unavailable`` and retries later, and no connection is held for minutes."""
    await session.execute(
        text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
            " set_config('statement_timeout', :t, true), set_config('enable_nestloop', :nestloop, true)"
        ),
        {"t": SYNC_STATEMENT_TIMEOUT, "nestloop": "off" if bulk else "on"},
    )


def _usable(cursor: Cursor | None, scope: Scope, head: int, pruned: int) -> bool:
    if cursor is None or cursor.org_id != scope.org_id or cursor.scope_key != scope.key:
        return False
    if not 0 <= (scope.day - cursor.day).days <= MAX_WINDOW_SHIFT_DAYS:
        return False
    if cursor.seq == START:
        return True
    return pruned <= cursor.seq <= head


def _raw(text_value: str) -> msgspec.Raw:
    return msgspec.Raw(text_value.encode())


# ---------------------------------------------------------------------------------------------- pull


async def pull(
    session: AsyncSession, ctx: RequestContext, secret: str, cursor_token: str | None, limit: int
) -> wire.SyncPullPage:
    """Changes since ``cursor_token`` (none: from nothing), at most ``limit`` rows plus what they bring along."""
    scope = scope_of(ctx)
    await _plan_each_time(session)
    head, pruned = await _head(session, scope.org_id)
    now = utcnow()
    if cursor_token:
        cursor = decode_cursor(cursor_token, secret)
        if not _usable(cursor, scope, head, pruned):
            log.info("sync.pull.reset", org_id=str(scope.org_id), reason="cursor")
            start = encode_cursor(Cursor(scope.org_id, START, scope.key, scope.day), secret)
            return wire.SyncPullPage(cursor=start, has_more=True, reset=True, tables={}, server_time=now)
        assert cursor is not None
        after = cursor.seq
        shifted_from = cursor.day if cursor.day != scope.day and after != START else None
    else:
        after, shifted_from = START, None
    params = scope.params() | {"after": after, "head": head, "lim": limit + 1}

    # (seq, table, id, record or None for a delete, customer id of a job)
    items: list[tuple[int, str, str, str | None, Any]] = []
    for table, record in RECORDS.items():
        if table == "jobs" and after == START:  # from nothing: only what is in scope, no deletes
            sql = (
                f"SELECT x.id, x.change_seq, ({record})::text, x.customer_id FROM jobs x"  # noqa: S608
                f" WHERE x.change_seq > :after AND x.change_seq <= :head AND {scope.jobs('x')}"
                " ORDER BY x.change_seq LIMIT :lim"
            )
        elif table == "jobs":
            sql = (
                f"SELECT x.id, x.change_seq, CASE WHEN {scope.jobs('x')} THEN ({record})::text END, x.customer_id"  # noqa: S608
                " FROM jobs x WHERE x.org_id = :org AND x.change_seq > :after AND x.change_seq <= :head"
                " ORDER BY x.change_seq LIMIT :lim"
            )
        else:
            sql = (
                f"SELECT x.id, x.change_seq, ({record})::text, NULL FROM {table} x"  # noqa: S608
                f" WHERE x.org_id = :org AND x.change_seq > :after AND x.change_seq <= :head AND {scope.rows(table)}"
                " ORDER BY x.change_seq LIMIT :lim"
            )
        for row in await session.execute(text(sql), params):
            items.append((int(row[1]), table, str(row[0]), row[2], row[3]))
    if after != START:  # from nothing there is nothing to delete
        tombstones = await session.execute(
            text(
                "SELECT table_name, row_id, change_seq FROM sync_tombstones WHERE org_id = :org"
                " AND change_seq > :after AND change_seq <= :head ORDER BY change_seq LIMIT :lim"
            ),
            params,
        )
        for row in tombstones:
            if row[0] in RECORDS:
                items.append((int(row[2]), str(row[0]), str(row[1]), None, None))
    items.sort(key=lambda item: item[0])
    has_more = len(items) > limit
    page = items[:limit]
    new_seq = page[-1][0] if has_more else max(head, after)

    tables = {name: wire.TableChanges() for name in RECORDS}
    sent: dict[str, set[str]] = {name: set() for name in RECORDS}
    jobs_sent: list[uuid.UUID] = []
    customers_of_jobs: set[uuid.UUID] = set()
    for _seq, table, row_id, record, customer_id in page:
        if record is None:
            tables[table].deletes.append(row_id)
            continue
        tables[table].upserts.append(_raw(record))  # type: ignore[arg-type]
        sent[table].add(row_id)
        if table == "jobs":
            jobs_sent.append(uuid.UUID(row_id))
            customers_of_jobs.add(customer_id)
    if shifted_from is not None:
        await _shift_window(session, scope, shifted_from, tables, sent, jobs_sent, customers_of_jobs)
    if jobs_sent and after != START:
        await _bring_along(session, scope, params, jobs_sent, customers_of_jobs, tables, sent)
    tables = {name: changes for name, changes in tables.items() if changes.upserts or changes.deletes}
    cursor = encode_cursor(Cursor(scope.org_id, new_seq, scope.key, scope.day), secret)
    return wire.SyncPullPage(cursor=cursor, has_more=has_more, reset=False, tables=tables, server_time=now)


async def _shift_window(
    session: AsyncSession,
    scope: Scope,
    old_day: datetime.date,
    tables: dict[str, wire.TableChanges],
    sent: dict[str, set[str]],
    jobs_sent: list[uuid.UUID],
    customers_of_jobs: set[uuid.UUID],
) -> None:
    """The day moved on since the cursor: closed jobs that fell out of the window are deleted on the device,
    closed jobs that came into it are sent (open jobs are in scope whatever their date)."""
    _, old_from, old_to = window(old_day)
    params = scope.params() | {"ofrom": old_from, "oto": old_to}
    closed = f"x.status NOT IN {OPEN_STATUSES}"
    in_old = "(x.scheduled_start >= :ofrom AND x.scheduled_start < :oto)"
    in_new = "(x.scheduled_start >= :wfrom AND x.scheduled_start < :wto)"
    leaving = await session.execute(
        text(f"SELECT x.id FROM jobs x WHERE {scope.assigned('x')} AND {closed} AND {in_old} AND NOT {in_new}"),  # noqa: S608
        params,
    )
    tables["jobs"].deletes.extend(str(row[0]) for row in leaving if str(row[0]) not in sent["jobs"])
    entering = await session.execute(
        text(
            f"SELECT x.id, ({RECORDS['jobs']})::text, x.customer_id FROM jobs x"  # noqa: S608
            f" WHERE {scope.jobs('x')} AND {closed} AND NOT {in_old}"
        ),
        params,
    )
    for row in entering:
        if str(row[0]) not in sent["jobs"]:
            sent["jobs"].add(str(row[0]))
            tables["jobs"].upserts.append(_raw(row[1]))  # type: ignore[arg-type]
            jobs_sent.append(row[0])
            customers_of_jobs.add(row[2])


async def _bring_along(
    session: AsyncSession,
    scope: Scope,
    params: dict[str, Any],
    job_ids: list[uuid.UUID],
    customer_ids: set[uuid.UUID],
    tables: dict[str, wire.TableChanges],
    sent: dict[str, set[str]],
) -> None:
    """A job that entered the scope (assigned, rescheduled into the window) arrives with what it needs:
    its notes, photos and signature, and for a technician its customer and the customer's addresses."""
    wanted: list[tuple[str, str, Any]] = [
        ("job_notes", "x.job_id = ANY(:ids)", job_ids),
        ("job_photos", "x.job_id = ANY(:ids)", job_ids),
        ("job_signatures", "x.job_id = ANY(:ids)", job_ids),
    ]
    if scope.technician_id is not None:
        wanted += [
            ("customers", "x.id = ANY(:ids)", list(customer_ids)),
            ("customer_addresses", "x.customer_id = ANY(:ids)", list(customer_ids)),
        ]
    for table, condition, ids in wanted:
        sql = f"SELECT x.id, ({RECORDS[table]})::text FROM {table} x WHERE {condition} AND {scope.rows(table)}"  # noqa: S608
        for row in await session.execute(text(sql), params | {"ids": ids}):
            if str(row[0]) not in sent[table]:
                sent[table].add(str(row[0]))
                tables[table].upserts.append(_raw(row[1]))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- bootstrap


async def bootstrap(
    session: AsyncSession,
    ctx: RequestContext,
    secret: str,
    table: str,
    after: uuid.UUID | None,
    limit: int,
    cursor_token: str | None,
) -> wire.SyncBootstrapPage:
    """One keyset page of ``table``'s rows in the caller's scope, with the cursor to pull from afterwards.

    The cursor is the org's counter read BEFORE the rows (the first call), or the one the device sends
    back (later calls); one that is no longer usable answers ``reset`` and the first page again.
    """
    if table not in RECORDS:
        raise AppError(ErrorCode.SYNC_TABLE_UNKNOWN, details={"table": table, "tables": list(wire.SYNC_TABLES)})
    scope = scope_of(ctx)
    await _plan_each_time(session, bulk=True)
    head, pruned = await _head(session, scope.org_id)
    reset = False
    cursor = decode_cursor(cursor_token, secret) if cursor_token else None
    if cursor_token and not _usable(cursor, scope, head, pruned):
        reset, cursor, after = True, None, None
    if cursor is None:
        cursor = Cursor(scope.org_id, head, scope.key, scope.day)
    params = scope.params() | {"lim": limit}
    keyset = ""
    if after is not None:
        keyset = " AND x.id > :after"
        params["after"] = after
    # one row back: the page's records already as one JSON array (no row-by-row decoding or encoding
    # here), whether a row follows it (the page reads one more), and the last id sent (the next ``after``)
    sql = (
        f"WITH page AS (SELECT x.id, {RECORDS[table]} AS r, row_number() OVER (ORDER BY x.id) AS n"  # noqa: S608
        f" FROM {table} x WHERE {scope.rows(table)}{keyset} ORDER BY x.id LIMIT :lim + 1)"
        " SELECT coalesce(json_agg(page.r ORDER BY page.id) FILTER (WHERE page.n <= :lim), '[]')::text,"
        " count(*) > :lim, (array_agg(page.id ORDER BY page.id DESC) FILTER (WHERE page.n <= :lim))[1] FROM page"
    )
    records, has_more, last_id = (await session.execute(text(sql), params)).one()
    return wire.SyncBootstrapPage(
        table=table,
        records=_raw(records),  # type: ignore[arg-type]
        next_after=str(last_id) if has_more else None,
        has_more=bool(has_more),
        cursor=encode_cursor(cursor, secret),
        server_time=utcnow(),
        reset=reset,
    )


async def export_rows(
    session: AsyncSession,
    org_id: uuid.UUID,
    tables: Sequence[str] = wire.SYNC_TABLES,
    technician_id: uuid.UUID | None = None,
    today: datetime.date | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The same rows (and records) as the bootstrap gives, in one SQL statement a table: the benchmark's
    reference of the server's own raw export. ``session`` must run in ``org_id``'s tenant context; without
    ``technician_id`` it is the office scope."""
    scope = Scope.make(org_id, technician_id, today)
    await _plan_each_time(session, bulk=True)  # planned as the bootstrap's pages are
    out: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        sql = (
            f"SELECT coalesce(json_agg(s.r ORDER BY s.id), '[]')::text FROM"  # noqa: S608
            f" (SELECT x.id, {RECORDS[table]} AS r FROM {table} x WHERE {scope.rows(table)}) s"
        )
        raw = (await session.execute(text(sql), scope.params())).scalar_one()
        out[table] = msgspec.json.decode(raw)
    return out


async def prune_tombstones(session: AsyncSession, org_id: uuid.UUID, before: datetime.datetime) -> int:
    """Drop the org's tombstones deleted before ``before``; cursors older than the last one dropped reset."""
    result = await session.execute(
        text(
            "WITH gone AS (DELETE FROM sync_tombstones WHERE org_id = :org AND deleted_at < :before"
            " RETURNING change_seq) SELECT count(*), max(change_seq) FROM gone"
        ),
        {"org": org_id, "before": before},
    )
    count, last = result.one()
    if last is not None:
        await session.execute(
            text("UPDATE change_seq_heads SET pruned_seq = greatest(pruned_seq, :last) WHERE org_id = :org"),
            {"org": org_id, "last": int(last)},
        )
    return int(count)


async def prune_all_tombstones(session: AsyncSession, before: datetime.datetime) -> int:
    """``prune_tombstones`` for every organisation at once (the periodic task; no tenant needed)."""
    removed = await session.scalar(text("SELECT sync_prune_tombstones(:before)"), {"before": before})
    return int(removed or 0)


# ---------------------------------------------------------------------------------------------- push


class _Outcome(msgspec.Struct, kw_only=True):
    status: str
    code: str | None = None
    message: str | None = None
    record: dict[str, Any] | None = None
    conflict: dict[str, Any] | None = None


async def record_of(session: AsyncSession, table: str, row_id: uuid.UUID) -> dict[str, Any] | None:
    """One row's sync record (as pull sends it), or None."""
    raw = (
        await session.execute(text(f"SELECT ({RECORDS[table]})::text FROM {table} x WHERE x.id = :id"), {"id": row_id})  # noqa: S608
    ).scalar_one_or_none()
    return msgspec.json.decode(raw) if raw else None


def _invalid(error: msgspec.ValidationError) -> AppError:
    return AppError(
        ErrorCode.SYNC_OPERATION_INVALID,
        f"La operación tiene datos inválidos: {error}.",
        details=[{"problem": str(error)}],
    )


def _convert(payload: dict[str, Any], type_: type[Any]) -> Any:
    try:
        return msgspec.convert(payload, type_)
    except msgspec.ValidationError as error:
        raise _invalid(error) from error


async def push(
    session: AsyncSession, ctx: RequestContext, data: wire.SyncPushRequest, trace_id: str | None
) -> wire.SyncPushResult:
    """Apply the batch, one savepoint an operation; one answer an operation, in order."""
    if len(data.operations) > wire.MAX_PUSH_OPERATIONS:
        raise AppError(
            ErrorCode.SYNC_BATCH_TOO_LARGE,
            details={"max": wire.MAX_PUSH_OPERATIONS, "received": len(data.operations)},
        )
    results = [await _push_one(session, ctx, data.device_id, op, trace_id) for op in data.operations]
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    log.info("sync.push", org_id=str(ctx.org_id), operations=len(results), **counts)
    return wire.SyncPushResult(results=results)


async def _push_one(
    session: AsyncSession, ctx: RequestContext, device_id: str, op: wire.SyncOperationIn, trace_id: str | None
) -> wire.SyncOpResult:
    assert ctx.org_id is not None
    stored = await session.scalar(  # populate_existing: the same op twice in one batch was updated by SQL
        select(SyncOperation).where(SyncOperation.id == op.op_id).execution_options(populate_existing=True)
    )
    if stored is not None:
        first = stored.result or {}
        return wire.SyncOpResult(
            op_id=op.op_id,
            status="duplicate",
            code=first.get("code"),
            message=first.get("message"),
            record=first.get("record"),
            conflict=first.get("conflict"),
        )
    try:  # claim the op id first: another organisation's id (unseen through RLS) cannot be reused
        async with session.begin_nested():
            session.add(
                SyncOperation(
                    id=op.op_id,
                    org_id=ctx.org_id,
                    user_id=ctx.user_id,
                    device_id=device_id,
                    entity_type=op.entity,
                    entity_id=op.entity_id,
                    operation=op.op,
                    payload=op.payload,
                    base_version=op.base_version,
                    status=SyncOperationStatus.REJECTED,
                )
            )
            await session.flush()
    except IntegrityError:
        return wire.SyncOpResult(
            op_id=op.op_id,
            status="rejected",
            code=ErrorCode.SYNC_OP_ID_REUSED.value,
            message=message_of(ErrorCode.SYNC_OP_ID_REUSED),
        )
    try:
        async with session.begin_nested():
            outcome = await _apply(session, ctx, device_id, op, trace_id)
    except AppError as error:
        message = error.message
        if error.code is ErrorCode.NOT_FOUND and op.entity == "job":
            message = (
                "Este trabajo ya no está a tu cargo o fue eliminado. Lo que cargaste quedó guardado en el teléfono."
            )
        outcome = _Outcome(status="rejected", code=error.code.value, message=message)
    except SQLAlchemyError:
        log.exception("sync.push.op_failed", op=op.op)
        outcome = _Outcome(
            status="rejected", code=ErrorCode.INTERNAL_ERROR.value, message=message_of(ErrorCode.INTERNAL_ERROR)
        )
    if outcome.status == "rejected" and outcome.record is None and op.entity == "job":
        # the server's record (if the caller may see it), for the device to show next to what it sent
        try:
            async with session.begin_nested():
                await jobs.get_job(session, ctx, op.entity_id)
            outcome.record = await record_of(session, "jobs", op.entity_id)
        except AppError:
            pass
    await session.execute(
        update(SyncOperation)
        .where(SyncOperation.id == op.op_id)
        .values(
            status=SyncOperationStatus(outcome.status),
            reason=outcome.code,
            result=msgspec.to_builtins(outcome),
            applied_at=None if outcome.status == "rejected" else utcnow(),
        )
    )
    return wire.SyncOpResult(
        op_id=op.op_id,
        status=outcome.status,  # type: ignore[arg-type]
        code=outcome.code,
        message=outcome.message,
        record=outcome.record,
        conflict=outcome.conflict,
    )


async def _apply(
    session: AsyncSession, ctx: RequestContext, device_id: str, op: wire.SyncOperationIn, trace_id: str | None
) -> _Outcome:
    if op.entity != "job" or op.op not in wire.SYNC_OPERATIONS:
        raise AppError(ErrorCode.SYNC_UNKNOWN_OPERATION, details={"entity": op.entity, "op": op.op})
    job = await jobs.get_job(session, ctx, op.entity_id)  # 404 when the caller may not see it
    if op.op == wire.OP_JOB_NOTE:
        return await _note(session, ctx, device_id, op, trace_id)
    if op.op == wire.OP_JOB_PROGRESS:
        return await _progress(session, ctx, job, op, trace_id)
    payload = dict(op.payload) | {"deviceId": device_id}
    if op.op == wire.OP_JOB_COMPLETE:
        payload["event"] = JobEvent.COMPLETE.value
        payload.pop("to", None)
    request: jobs_wire.TransitionRequest = _convert(payload, jobs_wire.TransitionRequest)
    if request.event is None:
        raise AppError(
            ErrorCode.SYNC_OPERATION_INVALID,
            "Falta el evento del cambio de estado.",
            details=[{"key": "event", "problem": "required"}],
        )
    decision = decide_transition(job.status, request.event, op.base_version, job.version)
    if decision.outcome is Outcome.REJECT and decision.conflict is not None:
        return await _conflict(session, ctx, device_id, op, decision.conflict)
    if decision.outcome is Outcome.ALREADY:
        await _keep_completion_notes(session, ctx, job, request, device_id, trace_id)
        return _Outcome(status="merged", record=await record_of(session, "jobs", job.id))
    # APPLY, or a refusal of the job machine: the jobs service checks and answers either way
    await jobs.transition(session, ctx, job.id, request, trace_id)
    return _Outcome(status="merged" if decision.stale else "applied", record=await record_of(session, "jobs", job.id))


async def _conflict(
    session: AsyncSession, ctx: RequestContext, device_id: str, op: wire.SyncOperationIn, kind: ConflictKind
) -> _Outcome:
    """The operation is refused as a conflict: the device gets back what it sent (nothing lost) and, for
    the kinds the office must see, a ``sync_conflicts`` row is recorded."""
    assert ctx.org_id is not None
    code = ErrorCode(kind.value)
    server = await record_of(session, "jobs", op.entity_id) or {}
    device = {
        "op": op.op,
        "payload": op.payload,
        "baseVersion": op.base_version,
        "createdAt": op.created_at.isoformat() if op.created_at else None,
    }
    conflict: dict[str, Any] = {"kind": kind.value, "deviceData": device, "serverVersion": server.get("version")}
    if kind in OFFICE_VISIBLE:
        row = SyncConflict(
            org_id=ctx.org_id,
            kind=kind.value,
            entity=op.entity,
            entity_id=op.entity_id,
            op_id=op.op_id,
            op=op.op,
            user_id=ctx.user_id,
            device_id=device_id,
            device_data=device,
            server_data=server,
            message=message_of(code),
        )
        session.add(row)
        await session.flush()
        conflict["id"] = str(row.id)
        log.info("sync.conflict", org_id=str(ctx.org_id), kind=kind.value, entity_id=str(op.entity_id))
    return _Outcome(status="rejected", code=code.value, message=message_of(code), record=server, conflict=conflict)


async def _keep_completion_notes(
    session: AsyncSession,
    ctx: RequestContext,
    job: Any,
    request: jobs_wire.TransitionRequest,
    device_id: str,
    trace_id: str | None,
) -> None:
    """The job was already completed (by someone else): the technician's closing notes are kept as a note."""
    notes = (request.completion_notes or "").strip()
    if request.event is JobEvent.COMPLETE and notes and notes != (job.completion_notes or "").strip():
        body = f"Notas de cierre del técnico (cargadas sin conexión): {notes}"[:4000]
        await jobs.add_note(session, ctx, job.id, jobs_wire.NoteCreate(body=body, device_id=device_id), trace_id)


async def _note(
    session: AsyncSession, ctx: RequestContext, device_id: str, op: wire.SyncOperationIn, trace_id: str | None
) -> _Outcome:
    client_id = op.payload.get("id")
    data: jobs_wire.NoteCreate = _convert({"body": op.payload.get("body"), "deviceId": device_id}, jobs_wire.NoteCreate)
    note = await jobs.add_note(session, ctx, op.entity_id, data, trace_id)
    record = await record_of(session, "job_notes", note.id) or {}
    record["clientId"] = client_id
    return _Outcome(status="applied", record=record)


class _Progress(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=False):
    actual_minutes: jobs_wire.Minutes | None = None
    completion_notes: jobs_wire.LongText | None = None
    materials: list[jobs_wire.MaterialInput] | None = None


async def _progress(
    session: AsyncSession, ctx: RequestContext, job: Any, op: wire.SyncOperationIn, trace_id: str | None
) -> _Outcome:
    """Progress fields (the technician's: actual minutes, closing notes, materials) on an open job."""
    data: _Progress = _convert(op.payload, _Progress)
    if job.status in jobs.CLOSED:
        raise AppError(ErrorCode.JOB_CLOSED, details={"status": str(job.status)})
    before = {"actualMinutes": job.actual_minutes, "completionNotes": job.completion_notes, "materials": job.materials}
    if data.actual_minutes is not None:
        job.actual_minutes = data.actual_minutes
    if data.completion_notes is not None:
        job.completion_notes = data.completion_notes
    if data.materials is not None:
        job.materials = await jobs._build_materials(session, data.materials)
    job.version += 1
    await session.flush()
    after = {"actualMinutes": job.actual_minutes, "completionNotes": job.completion_notes, "materials": job.materials}
    await record_by(session, ctx, "job.progress_synced", "job", job.id, before, after, trace_id)
    stale = is_stale(op.base_version, job.version - 1)
    return _Outcome(status="merged" if stale else "applied", record=await record_of(session, "jobs", job.id))


# ---------------------------------------------------------------------------------------------- conflicts


def _conflict_wire(row: SyncConflict) -> wire.SyncConflict:
    return wire.SyncConflict(
        id=row.id,
        kind=row.kind,
        entity=row.entity,
        entity_id=row.entity_id,
        op_id=row.op_id,
        op=row.op,
        user_id=row.user_id,
        device_id=row.device_id,
        device_data=row.device_data,
        server_data=row.server_data,
        message=row.message,
        created_at=row.created_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by_id=row.acknowledged_by_id,
    )


async def list_conflicts(session: AsyncSession, include_acknowledged: bool, limit: int) -> wire.SyncConflictPage:
    statement = select(SyncConflict).order_by(SyncConflict.created_at.desc()).limit(limit)
    if not include_acknowledged:
        statement = statement.where(SyncConflict.acknowledged_at.is_(None))
    rows = (await session.scalars(statement)).all()
    return wire.SyncConflictPage(items=[_conflict_wire(row) for row in rows])


async def acknowledge_conflict(
    session: AsyncSession, ctx: RequestContext, conflict_id: uuid.UUID, trace_id: str | None
) -> wire.SyncConflict:
    row = await session.scalar(select(SyncConflict).where(SyncConflict.id == conflict_id).with_for_update())
    if row is None:
        raise AppError(ErrorCode.SYNC_CONFLICT_NOT_FOUND)
    if row.acknowledged_at is None:
        row.acknowledged_at = utcnow()
        row.acknowledged_by_id = ctx.user_id
        await session.flush()
        await record_by(
            session, ctx, "sync.conflict_acknowledged", "sync_conflict", row.id, None, {"kind": row.kind}, trace_id
        )
    return _conflict_wire(row)
