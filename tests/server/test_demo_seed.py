from __future__ import annotations

import asyncpg
import httpx

from server.domain.demo.seed import DEMO_CODE, DEMO_CUIT, DEMO_MEMBERS, demo_steps, seed_demo
from server.runtime import Resources
from shared.roles import Role


async def test_demo_has_every_role_and_is_idempotent(resources: Resources, admin_conn: asyncpg.Connection) -> None:
    steps: list[str] = []
    first = await seed_demo(resources, on_step=steps.append)
    second = await seed_demo(resources)
    assert steps == demo_steps()
    assert second.org_id == first.org_id and second.created == []
    roles = {r["role"] for r in await admin_conn.fetch("SELECT role::text FROM users WHERE org_id = $1", first.org_id)}
    assert roles == {r.value for r in Role}
    assert await admin_conn.fetchval("SELECT count(*) FROM organizations WHERE cuit = $1", DEMO_CUIT) == 1
    assert await admin_conn.fetchval("SELECT count(*) FROM audit_chain_verify($1)", first.org_id) == 0


async def test_a_demo_member_signs_in_with_the_fixed_code(client: httpx.AsyncClient, resources: Resources) -> None:
    await seed_demo(resources)
    technician = next(m for m in DEMO_MEMBERS if m.role is Role.TECHNICIAN)
    await resources.redis.delete(f"otp:cooldown:{technician.phone}")
    assert (await client.post("/api/v1/auth/otp/request", json={"phone": technician.phone})).status_code == 202
    verified = await client.post("/api/v1/auth/otp/verify", json={"phone": technician.phone, "code": DEMO_CODE})
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["role"] == "technician"
    assert verified.json()["organization"]["cuit"] == DEMO_CUIT
