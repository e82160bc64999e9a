from __future__ import annotations

import asyncpg
import httpx

from server.runtime import Resources
from tests.server.auth.conftest import (
    Session,
    clear_cooldown,
    log_in,
    random_cuit,
    random_phone,
    sandbox_code,
    sign_up,
)


async def test_signup_creates_org_and_logs_the_owner_in(client: httpx.AsyncClient, resources: Resources) -> None:
    session = await sign_up(client, resources, name="Electricidad Norte")
    assert session.body["user"]["role"] == "owner"
    assert session.body["organization"]["name"] == "Electricidad Norte"
    me = await client.get("/api/v1/organization", headers=session.headers)
    assert me.status_code == 200 and me.json()["cuit"] == session.body["organization"]["cuit"]


async def test_signup_names_the_cuit_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"cuit": "20-12345678-7", "businessName": "X SRL", "phone": random_phone()}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "cuit_invalid"
    assert body["details"][0]["problem"] == "check_digit"
    assert "verificador" in body["message"]


async def test_same_cuit_cannot_sign_up_twice(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    again = await client.post(
        "/api/v1/auth/signup",
        json={"cuit": owner.body["organization"]["cuit"], "businessName": "Copia", "phone": random_phone()},
    )
    assert again.status_code == 409 and again.json()["code"] == "org_already_exists"


async def test_signup_of_a_registered_phone_is_refused(client: httpx.AsyncClient, owner: Session) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"cuit": random_cuit(), "businessName": "Otra", "phone": owner.phone}
    )
    assert response.status_code == 409 and response.json()["code"] == "phone_already_registered"


async def test_login_accepts_local_phone_formats(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    local = "011 15-" + owner.phone[-8:-4] + "-" + owner.phone[-4:]  # +54911XXXXYYYY → 011 15-XXXX-YYYY
    await clear_cooldown(resources, owner.phone)
    response = await client.post("/api/v1/auth/otp/request", json={"phone": local})
    assert response.status_code == 202
    code = await sandbox_code(resources, owner.phone)
    verified = await client.post("/api/v1/auth/otp/verify", json={"phone": local, "code": code})
    assert verified.status_code == 200
    assert verified.json()["user"]["id"] == owner.user_id


async def test_malformed_phone_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/otp/request", json={"phone": "hola que tal"})
    assert response.status_code == 422
    assert response.json()["code"] == "phone_invalid"


async def test_unknown_phone_gets_the_same_answer_and_no_code(client: httpx.AsyncClient, resources: Resources) -> None:
    phone = random_phone()
    response = await client.post("/api/v1/auth/otp/request", json={"phone": phone})
    assert response.status_code == 202
    assert await resources.redis.get(f"sandbox:otp:{phone}") is None


async def test_wrong_codes_count_down_then_lock(
    client: httpx.AsyncClient, resources: Resources, owner: Session, admin_conn: asyncpg.Connection
) -> None:
    await clear_cooldown(resources, owner.phone)
    await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
    real = await sandbox_code(resources, owner.phone)
    wrong = "000000" if real != "000000" else "111111"
    answers = [
        await client.post("/api/v1/auth/otp/verify", json={"phone": owner.phone, "code": wrong}) for _ in range(5)
    ]
    assert [a.json()["code"] for a in answers[:4]] == ["otp_invalid"] * 4
    assert answers[0].json()["details"]["attemptsLeft"] == 4
    assert answers[4].status_code == 429 and answers[4].json()["code"] == "otp_too_many_attempts"
    # even the right code is refused now: a new one must be requested
    late = await client.post("/api/v1/auth/otp/verify", json={"phone": owner.phone, "code": real})
    assert late.json()["code"] == "otp_too_many_attempts"
    failures = await admin_conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'auth.otp_failed'",
        owner.body["organization"]["id"],
    )
    assert failures == 6  # five wrong codes and the refused late one


async def test_codes_are_single_use_and_expire(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    await clear_cooldown(resources, owner.phone)
    await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
    code = await sandbox_code(resources, owner.phone)
    assert (await client.post("/api/v1/auth/otp/verify", json={"phone": owner.phone, "code": code})).status_code == 200
    again = await client.post("/api/v1/auth/otp/verify", json={"phone": owner.phone, "code": code})
    assert again.status_code == 400 and again.json()["code"] == "otp_expired"


async def test_code_is_stored_only_as_a_hash(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    await clear_cooldown(resources, owner.phone)
    await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
    code = await sandbox_code(resources, owner.phone)
    stored = await resources.redis.get(f"otp:{owner.phone}")
    assert stored is not None and code.encode() not in stored


async def test_resend_cooldown_has_retry_after(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    await clear_cooldown(resources, owner.phone)
    first = await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
    second = await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
    assert first.status_code == 202
    assert second.status_code == 429 and second.json()["code"] == "otp_resend_too_soon"
    assert 0 < int(second.headers["retry-after"]) <= 60


async def test_per_phone_limit_over_a_window(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    statuses = []
    for _ in range(7):
        await clear_cooldown(resources, owner.phone)
        statuses.append((await client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})).status_code)
    # the owner's sign-up used one request of the window already
    assert statuses.count(202) == 4 and statuses[-1] == 429


async def test_two_sessions_are_listed_and_one_can_be_closed(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    desktop = await log_in(client, resources, owner.phone, device="escritorio")
    listed = (await client.get("/api/v1/auth/sessions", headers=desktop.headers)).json()
    assert len(listed) == 2
    assert [s["current"] for s in listed].count(True) == 1
    phone_session = next(s for s in listed if not s["current"])
    closed = await client.delete(f"/api/v1/auth/sessions/{phone_session['id']}", headers=desktop.headers)
    assert closed.status_code == 204
    refused = await client.get("/api/v1/auth/sessions", headers=owner.headers)
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    assert len((await client.get("/api/v1/auth/sessions", headers=desktop.headers)).json()) == 1


async def test_logout_closes_the_session(client: httpx.AsyncClient, owner: Session) -> None:
    assert (await client.post("/api/v1/auth/logout", headers=owner.headers)).status_code == 204
    after = await client.get("/api/v1/users", headers=owner.headers)
    assert after.status_code == 401 and after.json()["code"] == "session_revoked"
    refresh = await client.post("/api/v1/auth/refresh", json={"refreshToken": owner.refresh})
    assert refresh.status_code == 401
