"""Authenticated, org-scoped list: GET /api/v1/users (JWT check, tenant transaction, RLS, one query)."""

from __future__ import annotations

from typing import Any

from server.domain.auth.tokens import issue_access_token
from shared.fiscal.cuit import make_cuit
from shared.ids import new_id
from tests.benchmarks.run import BenchContext, Entry, register

MEMBERS = 25


async def seed_team(ctx: BenchContext) -> dict[str, Any]:
    """An organisation with 25 members (seeded as the owner); a token minted with the server's key."""
    org_id, owner_id = new_id(), new_id()
    async with ctx.owner_connection() as conn:
        await conn.execute(
            "INSERT INTO organizations (id, name, cuit, settings, is_active, created_at, updated_at)"
            " VALUES ($1, 'Bench SRL', $2, '{}', true, now(), now())",
            org_id,
            make_cuit("30", "70000001"),
        )
        rows = [
            (
                owner_id if i == 0 else new_id(),
                org_id,
                f"+54911556{i:05d}",
                f"Miembro {i}",
                "owner" if i == 0 else ("technician" if i % 3 else "dispatcher"),
            )
            for i in range(MEMBERS)
        ]
        await conn.executemany(
            "INSERT INTO users (id, org_id, phone, full_name, role, is_active, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5::user_role, true, now(), now())",
            rows,
        )
    token = issue_access_token(
        ctx.settings.secret_key or "", user_id=owner_id, org_id=org_id, role="owner", session_id=new_id()
    )
    return {"token": token}


register(
    Entry(
        name="users_list",
        path="/api/v1/users",
        headers=lambda data: {"Authorization": f"Bearer {data['token']}"},
        setup=seed_team,
        baseline="health",
        description="authenticated org-scoped list of 25 members (JWT + tenant transaction + RLS)",
    )
)
