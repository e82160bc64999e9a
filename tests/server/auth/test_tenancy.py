"""Every org-scoped endpoint: org B gets 404 for org A's ids, cannot list them, cannot write them."""

from __future__ import annotations

import httpx

from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, sign_up


async def test_org_b_cannot_see_or_touch_org_a(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    member_a = await add_member(client, resources, owner, "technician")
    sessions_a = (await client.get("/api/v1/auth/sessions", headers=owner.headers)).json()
    org_b = await sign_up(client, resources, name="Competencia SA")

    # reads by id: as if it did not exist
    for path in (f"/api/v1/users/{member_a.user_id}", f"/api/v1/users/{owner.user_id}"):
        response = await client.get(path, headers=org_b.headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    # lists: only their own
    listed_ids = {m["id"] for m in (await client.get("/api/v1/users", headers=org_b.headers)).json()}
    assert listed_ids == {org_b.user_id}
    assert (await client.get("/api/v1/organization", headers=org_b.headers)).json()["id"] == org_b.org_id
    # writes: refused as not found, and nothing changed
    patch = await client.patch(f"/api/v1/users/{member_a.user_id}", headers=org_b.headers, json={"isActive": False})
    assert patch.status_code == 404
    revoke = await client.delete(f"/api/v1/auth/sessions/{sessions_a[0]['id']}", headers=org_b.headers)
    assert revoke.status_code == 404
    still = await client.get(f"/api/v1/users/{member_a.user_id}", headers=owner.headers)
    assert still.json()["isActive"] is True
    assert (await client.get("/api/v1/users", headers=member_a.headers)).status_code == 403  # own role, not tenancy
    assert (await client.get("/api/v1/organization", headers=owner.headers)).json()["name"] != "Competencia SA"
