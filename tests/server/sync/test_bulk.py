"""First sync in bulk: thousands of rows through the bootstrap pages, the same rows as the raw export."""

from __future__ import annotations

import time
import uuid

import asyncpg
import httpx
import msgspec
import pytest
from sqlalchemy import text

from server.db.engine import tenant_transaction
from server.domain.sync.services import export_rows
from server.runtime import Resources
from tests.server.sync.conftest import API, Team

JOBS = 3000
CUSTOMERS = 1500


async def seed(admin_conn: asyncpg.Connection, team: Team) -> None:
    org = uuid.UUID(team.owner.org_id)
    await admin_conn.execute(
        "INSERT INTO customers (id, org_id, name, other_phones, doc_type, iva_condition, created_at, updated_at)"
        " SELECT gen_random_uuid(), $1, 'Cliente ' || n, '{}', 'none', 'consumidor_final', now(), now()"
        " FROM generate_series(1, $2) n",
        org, CUSTOMERS,
    )  # fmt: skip
    await admin_conn.execute(
        "INSERT INTO jobs (id, org_id, customer_id, title, priority, status, complexity, materials, version,"
        " scheduled_start, created_at, updated_at)"
        " SELECT gen_random_uuid(), $1, c.id, 'Trabajo ' || n, 'normal', 'scheduled', 'normal', '[]', 1,"
        " now() + (n % 7) * interval '1 day', now(), now()"
        " FROM generate_series(1, $2) n"
        " JOIN LATERAL (SELECT id FROM customers WHERE org_id = $1 ORDER BY id OFFSET (n % $3) LIMIT 1) c ON true",
        org, JOBS, CUSTOMERS,
    )  # fmt: skip
    await admin_conn.execute(
        "INSERT INTO job_assignments (id, org_id, job_id, technician_id, created_at, updated_at)"
        " SELECT gen_random_uuid(), $1, j.id, $2, now(), now() FROM jobs j WHERE j.org_id = $1",
        org, uuid.UUID(team.tech.user_id),
    )  # fmt: skip


async def test_first_sync_in_bulk_pages_the_same_rows_as_the_raw_export(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    await seed(admin_conn, team)
    started = time.perf_counter()
    got: dict[str, list[dict[str, object]]] = {}
    cursor = None
    for table in ("jobs", "customers", "customer_addresses"):
        after = None
        while True:
            params = {"table": table, "limit": 2000} | ({"after": after} if after else {})
            params |= {"cursor": cursor} if cursor else {}
            response = await client.get(f"{API}/sync/bootstrap", headers=team.tech.headers, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            cursor = page["cursor"]
            got.setdefault(table, []).extend(page["records"])
            after = page["nextAfter"]
            if not after:
                break
    bootstrap_seconds = time.perf_counter() - started

    org = uuid.UUID(team.owner.org_id)
    started = time.perf_counter()
    async with tenant_transaction(resources.sessionmaker, org) as session:
        exported = await export_rows(
            session, org, ["jobs", "customers", "customer_addresses"], uuid.UUID(team.tech.user_id)
        )
    export_seconds = time.perf_counter() - started
    print(f"bootstrap {bootstrap_seconds:.2f}s, raw export {export_seconds:.2f}s")

    assert len(got["jobs"]) == JOBS
    for table in ("jobs", "customers", "customer_addresses"):
        assert got[table] == exported[table], table  # the same rows, the same records, the same order
    assert all(job["technicianIds"] == [team.tech.user_id] for job in got["jobs"])


async def test_first_sync_is_planned_for_the_technician_and_a_stuck_statement_answers_503(
    client: httpx.AsyncClient,
    resources: Resources,
    team: Team,
    admin_conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL switches a statement the driver runs often to a generic plan; for a technician's scope such a
    plan, made on old statistics, took minutes (seen in this suite: 5 minutes for one page of customers). The
    sync plans each call for its own technician and window; a statement still stuck is cancelled and the device
    is told to come back (503, Retry-After) instead of a connection being held for minutes."""
    from server.domain.sync import services
    from server.lib.context import RequestContext

    await seed(admin_conn, team)
    org = uuid.UUID(team.owner.org_id)
    ctx = RequestContext(org_id=org, user_id=uuid.UUID(team.tech.user_id), role="technician")
    async with tenant_transaction(resources.sessionmaker, org) as session:
        await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))  # as after a busy day
        page = await services.bootstrap(session, ctx, "secreto-de-prueba", "customers", None, 2000, None)
        settings = (await session.execute(text("SELECT current_setting('plan_cache_mode'), "
                                               "current_setting('statement_timeout')"))).one()  # fmt: skip
    assert len(msgspec.json.decode(page.records)) == CUSTOMERS  # type: ignore[arg-type]
    assert tuple(settings) == ("force_custom_plan", services.SYNC_STATEMENT_TIMEOUT)

    monkeypatch.setattr(services, "SYNC_STATEMENT_TIMEOUT", "1ms")  # every statement now "stuck"
    stuck = await client.get(f"{API}/sync/bootstrap", headers=team.tech.headers, params={"table": "jobs"})
    assert stuck.status_code == 503, stuck.text
    assert stuck.json()["code"] == "service_unavailable" and stuck.headers["retry-after"] == "30"
    monkeypatch.undo()
    fine = await client.get(f"{API}/sync/bootstrap", headers=team.tech.headers, params={"table": "jobs", "limit": 10})
    assert fine.status_code == 200 and len(fine.json()["records"]) == 10  # nothing left broken behind
