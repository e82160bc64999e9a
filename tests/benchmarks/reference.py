"""A benchmark-only reference server: the day's page of jobs through raw asyncpg, no framework at all.

``uvicorn tests.benchmarks.reference:app_factory --factory`` (``REFERENCE_DATABASE_URL``: the application
role). ``GET /jobs?org=<uuid>&date=YYYY-MM-DD`` runs what ``shared/specs/stack.md`` calls the reference for
list endpoints: one transaction that sets the tenant (BEGIN, set_config, SELECT, COMMIT) on a plain asyncpg
pool, the query of ``services.list_jobs`` for a day, msgspec for the JSON. No authentication, rate limit,
middleware or logging: the floor a list endpoint of this shape can reach on this machine.
"""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import msgspec

from server.domain.jobs.services import day_bounds

SQL = (
    "SELECT t.total, p.id, p.customer_id, p.address_id, p.title, p.service_type, p.priority::text, p.status::text,"
    " p.scheduled_start, p.scheduled_end,"
    " ARRAY(SELECT a.technician_id FROM job_assignments a WHERE a.job_id = p.id"
    " ORDER BY a.created_at, a.technician_id) AS technician_ids, p.version, p.created_at, p.updated_at"
    " FROM (SELECT count(*) AS total FROM jobs j WHERE j.scheduled_start >= $1 AND j.scheduled_start < $2) AS t"
    " LEFT JOIN LATERAL (SELECT j.* FROM jobs j WHERE j.scheduled_start >= $1 AND j.scheduled_start < $2"
    " ORDER BY j.scheduled_start ASC NULLS LAST, j.created_at DESC, j.id LIMIT 50) AS p ON true"
    " ORDER BY p.scheduled_start ASC NULLS LAST, p.created_at DESC, p.id"
)


class Item(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    customer_id: uuid.UUID
    address_id: uuid.UUID | None
    title: str
    service_type: str | None
    priority: str
    status: str
    scheduled_start: datetime.datetime | None
    scheduled_end: datetime.datetime | None
    technician_ids: list[uuid.UUID]
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class Page(msgspec.Struct, rename="camel"):
    items: list[Item]
    total: int
    limit: int
    offset: int


def app_factory() -> Any:
    url = os.environ["REFERENCE_DATABASE_URL"]
    state: dict[str, asyncpg.Pool] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["pool"] = await asyncpg.create_pool(url, min_size=4, max_size=10)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["pool"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        query = parse_qs(scope.get("query_string", b"").decode())
        status, body = 200, b'{"ok":true}'
        if scope["path"] == "/jobs":
            start, end = day_bounds(datetime.date.fromisoformat(query["date"][0]))
            async with state["pool"].acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('app.org_id', $1, true)", query["org"][0])
                rows = await conn.fetch(SQL, start, end)
            items = [Item(*row[1:]) for row in rows if row[1] is not None]
            body = msgspec.json.encode(Page(items, rows[0][0] if rows else 0, 50, 0))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app
