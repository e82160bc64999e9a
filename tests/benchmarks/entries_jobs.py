"""Jobs reads under load: one day's page of jobs (GET /api/v1/jobs?date=) and the dispatch board of that day.

One organisation is seeded once for both (as the owner, through COPY): 20 technicians, 500 customers and
5,000 jobs spread over 60 days (Buenos Aires working hours), 80 of them on the benchmarked day, each
assigned to one technician (4 a technician on that day). The token is the owner's, minted with the server's key.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import random
from typing import Any

from server.domain.auth.tokens import issue_access_token
from server.domain.jobs.services import LOCAL_TZ
from shared.fiscal.cuit import make_cuit
from shared.ids import new_id
from tests.benchmarks.run import BenchContext, Entry, register

DAY = datetime.date(2026, 12, 1)  # the benchmarked day
FIRST_DAY = DAY - datetime.timedelta(days=30)
DAYS = 60
JOBS = 5_000
JOBS_ON_DAY = 80
TECHNICIANS = 20
CUSTOMERS = 500
STATUSES = ("scheduled", "scheduled", "scheduled", "en_camino", "working", "completed", "pending", "cancelled")
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
SERVICES = ("Instalación split", "Service aire", "Destape", "Pérdida de gas", "Termotanque", "Electricidad")


def _days() -> list[datetime.date]:
    """The day of each job: JOBS_ON_DAY on DAY, the rest spread evenly over the other 59 days."""
    others = [FIRST_DAY + datetime.timedelta(days=i) for i in range(DAYS)]
    others.remove(DAY)
    rest = JOBS - JOBS_ON_DAY
    return [DAY] * JOBS_ON_DAY + [others[i % len(others)] for i in range(rest)]


async def seed_jobs_org(ctx: BenchContext) -> dict[str, Any]:
    """The organisation both entries read (seeded once a run, kept in ``ctx.state``)."""
    if "jobs_org" in ctx.state:
        return ctx.state["jobs_org"]  # type: ignore[no-any-return]
    rng = random.Random(20261201)
    org_id, owner_id = new_id(), new_id()
    now = datetime.datetime.now(datetime.UTC)
    technicians = [new_id() for _ in range(TECHNICIANS)]
    customers = [new_id() for _ in range(CUSTOMERS)]
    users = [(owner_id, org_id, "+5491155000000", "Dueña Bench", "owner", True, now, now)] + [
        (tech, org_id, f"+54911551{i:05d}", f"Técnico {i}", "technician", True, now, now)
        for i, tech in enumerate(technicians)
    ]
    customer_rows = [
        (cid, org_id, f"Cliente {i:03d}", f"+54911552{i:05d}", [], "none", "consumidor_final", now, now)
        for i, cid in enumerate(customers)
    ]
    jobs: list[tuple[Any, ...]] = []
    assignments: list[tuple[Any, ...]] = []
    per_day: dict[datetime.date, int] = {}
    for day in _days():
        index = per_day.get(day, 0)
        per_day[day] = index + 1
        tech = technicians[index % TECHNICIANS]
        hour = 8 + 2 * ((index // TECHNICIANS) % 5)  # 08:00, 10:00, ... 16:00 local
        start = datetime.datetime.combine(day, datetime.time(hour, rng.choice((0, 15, 30))), tzinfo=LOCAL_TZ)
        minutes = rng.choice((60, 90, 120))
        job_id = new_id()
        jobs.append(
            (
                job_id,
                org_id,
                rng.choice(customers),
                f"Trabajo {len(jobs):05d}",
                rng.choice(SERVICES),
                rng.choice(PRIORITIES),
                rng.choice(STATUSES),
                "normal",
                start.astimezone(datetime.UTC),
                (start + datetime.timedelta(minutes=minutes)).astimezone(datetime.UTC),
                minutes,
                "[]",
                owner_id,
                1,
                now,
                now,
            )
        )
        assignments.append((new_id(), org_id, job_id, tech, now, now))
    async with ctx.owner_connection() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO organizations (id, name, cuit, settings, is_active, created_at, updated_at)"
            " VALUES ($1, 'Bench Jobs SRL', $2, '{}', true, now(), now())",
            org_id,
            make_cuit("30", "70000002"),
        )
        await conn.executemany(
            "INSERT INTO users (id, org_id, phone, full_name, role, is_active, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5::user_role, $6, $7, $8)",
            users,
        )
        await conn.copy_records_to_table(
            "customers",
            records=customer_rows,
            columns=[
                "id",
                "org_id",
                "name",
                "phone",
                "other_phones",
                "doc_type",
                "iva_condition",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "jobs",
            records=jobs,
            columns=[
                "id",
                "org_id",
                "customer_id",
                "title",
                "service_type",
                "priority",
                "status",
                "complexity",
                "scheduled_start",
                "scheduled_end",
                "estimated_minutes",
                "materials",
                "created_by_id",
                "version",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "job_assignments",
            records=assignments,
            columns=["id", "org_id", "job_id", "technician_id", "created_at", "updated_at"],
        )
    async with ctx.owner_connection() as conn:
        await conn.execute("ANALYZE customers, jobs, job_assignments, users")
    token = issue_access_token(
        ctx.settings.secret_key or "", user_id=owner_id, org_id=org_id, role="owner", session_id=new_id()
    )
    data = {"token": token, "day": DAY.isoformat(), "org_id": str(org_id)}
    ctx.state["jobs_org"] = data
    return data


def _auth(data: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {data['token']}"}


register(
    Entry(
        name="jobs_day",
        path="/api/v1/jobs?date={day}&limit=50",
        headers=_auth,
        setup=seed_jobs_org,
        baseline="health",
        target_ratio=1 / 3,
        description="one day's page of 50 jobs (of 80 that day, 5,000 in the org) as the owner",
    )
)


async def start_reference(ctx: BenchContext) -> dict[str, Any]:
    """The same org, and the raw asyncpg reference server (tests/benchmarks/reference.py) in a process of its own."""
    from tests.benchmarks.run import RESULTS_DIR, ServerProcess

    data = dict(await seed_jobs_org(ctx))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPOTECH_")}
    env["REFERENCE_DATABASE_URL"] = ctx.app_url
    server = ServerProcess(env, RESULTS_DIR / "reference.log", app="tests.benchmarks.reference:app_factory")
    ctx.cleanups.append(server.stop)
    await asyncio.to_thread(server.start)
    return data | {"reference": server.base_url}


register(
    Entry(
        name="jobs_day_raw",
        path="{reference}/jobs?org={org_id}&date={day}",
        setup=start_reference,
        baseline="health",
        description="reference only: the same page through raw asyncpg (BEGIN, set_config, SELECT, COMMIT), no "
        "framework, its own server process (srv cpu is not its own)",
    )
)

register(
    Entry(
        name="dispatch_board",
        path="/api/v1/dispatch/board?date={day}",
        headers=_auth,
        setup=seed_jobs_org,
        baseline="health",
        description="the day board: 20 technicians x 80 jobs that day (5,000 in the org)",
    )
)
