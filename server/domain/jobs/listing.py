"""The job list on its hot path: one statement, one round trip, the JSON written by PostgreSQL.

``GET /api/v1/jobs`` is read all day long by every dispatcher and technician. It runs
``jobs_list_page(...)`` (migration 0007) on the application role's asyncpg pool: in one implicit
transaction the function sets the caller's tenant context (row-level security filters every table it
reads), counts the matching jobs and returns the page as the JSON text of ``JobPage``, byte for byte
what ``services.list_jobs`` + msgspec give (tests/server/jobs/test_list_fast.py compares them). No ORM
session, no BEGIN/COMMIT round trips, no Python object per row; nothing is cached.

Measured (tests/benchmarks, 2 shared cores): rows decoded by asyncpg and encoded by msgspec cost the
single server process ~0.25 ms more CPU a request than the JSON text, for ~0.15 ms more in PostgreSQL;
with one worker the server is the scarcer core, so PostgreSQL writes the JSON.

The rules are the same as ``services.list_jobs`` (kept as the reference and for in-process callers):
a technician (``JOBS_READ_OWN`` without ``JOBS_READ_ALL``) only gets the jobs assigned to them,
whatever they ask; a day is a Buenos Aires calendar day compared as timestamptz bounds; ``limit`` is
clamped and ``offset`` checked like every list.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from server.domain.jobs.services import day_bounds, reads_all
from server.lib.context import RequestContext
from server.lib.pagination import check_offset, clamp_limit
from shared.states.job import JobStatus

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]


_PAGE_SQL = "SELECT jobs_list_page($1::uuid, $2::uuid, $3::uuid, $4::job_status[], $5, $6, $7::uuid, $8::uuid, $9, $10)"


async def list_jobs_json(
    pool: asyncpg.Pool,
    ctx: RequestContext,
    *,
    status: Sequence[JobStatus] | None = None,
    day: datetime.date | None = None,
    technician_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int | None = 50,
    offset: int | None = 0,
) -> bytes:
    """One page of jobs and the total as the JSON body of a ``JobPage`` (see the module's docstring)."""
    page_limit, page_offset = clamp_limit(limit), check_offset(offset)
    start, end = day_bounds(day) if day is not None else (None, None)
    own = None if reads_all(ctx) else ctx.user_id or uuid.UUID(int=0)  # no user to scope to: nothing is theirs
    body = await pool.fetchval(
        _PAGE_SQL,
        ctx.org_id,
        ctx.user_id,
        own,
        [str(s) for s in status] if status else None,
        start,
        end,
        technician_id,
        customer_id,
        page_limit,
        page_offset,
    )
    assert isinstance(body, str)  # the function always answers a page (an empty one included)
    return body.encode()


__all__ = ["list_jobs_json"]
