from __future__ import annotations

import asyncpg
import httpx

from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, log_in, random_phone


async def test_invite_then_first_login_joins(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    phone = random_phone()
    invited = await client.post(
        "/api/v1/users", headers=owner.headers, json={"phone": phone, "fullName": "Tito Gómez", "role": "technician"}
    )
    assert invited.status_code == 201
    assert invited.json()["joinedAt"] is None
    tech = await log_in(client, resources, phone)
    assert tech.body["user"]["role"] == "technician" and tech.org_id == owner.org_id
    member = (await client.get(f"/api/v1/users/{tech.user_id}", headers=owner.headers)).json()
    assert member["joinedAt"] is not None


async def test_a_phone_belongs_to_one_organisation(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    from tests.server.auth.conftest import sign_up

    other = await sign_up(client, resources, name="Otra")
    response = await client.post(
        "/api/v1/users", headers=owner.headers, json={"phone": other.phone, "fullName": "Doble", "role": "dispatcher"}
    )
    assert response.status_code == 409 and response.json()["code"] == "phone_already_registered"


async def test_role_change_is_audited_and_reaches_the_next_token(
    client: httpx.AsyncClient, resources: Resources, owner: Session, admin_conn: asyncpg.Connection
) -> None:
    member = await add_member(client, resources, owner, "technician")
    changed = await client.patch(f"/api/v1/users/{member.user_id}", headers=owner.headers, json={"role": "dispatcher"})
    assert changed.status_code == 200 and changed.json()["role"] == "dispatcher"
    refreshed = (await client.post("/api/v1/auth/refresh", json={"refreshToken": member.refresh})).json()
    assert refreshed["user"]["role"] == "dispatcher"
    row = await admin_conn.fetchrow(
        "SELECT before, after FROM audit_log WHERE action = 'user.role_changed' AND entity_id = $1", member.user_id
    )
    assert row is not None and '"technician"' in row["before"] and '"dispatcher"' in row["after"]


async def test_deactivation_closes_every_session_at_once(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    member = await add_member(client, resources, owner, "dispatcher")
    second = await log_in(client, resources, member.phone, device="escritorio")
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200
    off = await client.patch(f"/api/v1/users/{member.user_id}", headers=owner.headers, json={"isActive": False})
    assert off.status_code == 200 and off.json()["isActive"] is False
    for session in (member, second):
        denied = await client.get("/api/v1/users", headers=session.headers)
        assert denied.status_code == 401 and denied.json()["code"] == "session_revoked"
        assert (await client.post("/api/v1/auth/refresh", json={"refreshToken": session.refresh})).status_code == 401
    # a deactivated user cannot sign in again, and their history stays
    await resources.redis.delete(f"otp:cooldown:{member.phone}", f"sandbox:otp:{member.phone}")
    asked = await client.post("/api/v1/auth/otp/request", json={"phone": member.phone})
    assert asked.status_code == 202  # the same answer as for anyone
    assert await resources.redis.get(f"sandbox:otp:{member.phone}") is None  # but no code is sent
    listed = (await client.get("/api/v1/users", headers=owner.headers)).json()
    assert any(m["id"] == member.user_id and m["isActive"] is False for m in listed)


async def test_the_last_owner_stays(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    demote = await client.patch(f"/api/v1/users/{owner.user_id}", headers=owner.headers, json={"role": "admin"})
    assert demote.status_code == 409 and demote.json()["code"] == "last_owner"
    leave = await client.patch(f"/api/v1/users/{owner.user_id}", headers=owner.headers, json={"isActive": False})
    assert leave.status_code == 409
    co_owner = await add_member(client, resources, owner, "owner")
    demoted = await client.patch(f"/api/v1/users/{owner.user_id}", headers=co_owner.headers, json={"role": "admin"})
    assert demoted.status_code == 200


async def test_admin_cannot_make_or_unmake_owners(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    admin = await add_member(client, resources, owner, "admin")
    grant = await client.post(
        "/api/v1/users", headers=admin.headers, json={"phone": random_phone(), "fullName": "Nuevo", "role": "owner"}
    )
    assert grant.status_code == 403 and grant.json()["code"] == "role_not_grantable"
    touch = await client.patch(f"/api/v1/users/{owner.user_id}", headers=admin.headers, json={"isActive": False})
    assert touch.status_code == 403


async def test_role_guards(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    tech = await add_member(client, resources, owner, "technician")
    accountant = await add_member(client, resources, owner, "accountant")
    invite = await client.post(
        "/api/v1/users", headers=tech.headers, json={"phone": random_phone(), "fullName": "X", "role": "technician"}
    )
    assert invite.status_code == 403 and invite.json()["code"] == "permission_denied"
    assert (await client.get("/api/v1/users", headers=tech.headers)).status_code == 403
    assert (await client.get("/api/v1/organization", headers=tech.headers)).status_code == 200
    assert (
        await client.patch("/api/v1/organization", headers=accountant.headers, json={"address": "x"})
    ).status_code == 403
    assert (await client.get("/api/v1/users", headers=accountant.headers)).status_code == 200


async def test_org_settings_round_trip(
    client: httpx.AsyncClient, owner: Session, admin_conn: asyncpg.Connection
) -> None:
    update = {
        "ivaCondition": "responsable_inscripto",
        "grossIncomeNumber": "901-123456-7",
        "activityStartDate": "2019-03-01",
        "address": "Av. Corrientes 1234, CABA",
        "defaultPointOfSale": 3,
        "workingHours": [{"weekday": 0, "opens": "09:00", "closes": "17:00"}],
    }
    response = await client.patch("/api/v1/organization", headers=owner.headers, json=update)
    assert response.status_code == 200, response.text
    body = (await client.get("/api/v1/organization", headers=owner.headers)).json()
    for key, value in update.items():
        assert body[key] == value
    bad = await client.patch(
        "/api/v1/organization",
        headers=owner.headers,
        json={"workingHours": [{"weekday": 1, "opens": "18:00", "closes": "09:00"}]},
    )
    assert bad.status_code == 422
    bad_pos = await client.patch("/api/v1/organization", headers=owner.headers, json={"defaultPointOfSale": 0})
    assert bad_pos.status_code == 422
    audited = await admin_conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'organization.updated'", owner.org_id
    )
    assert audited == 1


async def test_audit_chain_holds_logins(
    client: httpx.AsyncClient, resources: Resources, owner: Session, admin_conn: asyncpg.Connection
) -> None:
    await log_in(client, resources, owner.phone)
    actions = [
        r["action"]
        for r in await admin_conn.fetch("SELECT action FROM audit_log WHERE org_id = $1 ORDER BY seq", owner.org_id)
    ]
    assert actions[:3] == ["organization.created", "auth.signup", "auth.login"]
    broken = await admin_conn.fetch("SELECT * FROM audit_chain_verify($1)", owner.org_id)
    assert broken == []
