"""The job list's hot path (server/domain/jobs/listing.py + jobs_list_page of migration 0007).

The body PostgreSQL writes must be exactly what the reference path (``services.list_jobs`` encoded by
msgspec) writes, for every filter, for an owner and for a technician; organisations stay apart; a
technician sees only their jobs; the pool keeps no tenant behind; the session check and the API rate
limit are one Redis call that counts each request once and a revoked session not at all.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec

from server.db.engine import tenant_transaction
from server.domain.auth.tokens import REVOKED_SESSION_PREFIX, context_from_token
from server.domain.jobs import services
from server.runtime import Resources
from server.settings import Settings
from shared.states.job import JobStatus
from tests.server.auth.conftest import Session, sign_up
from tests.server.jobs.conftest import Team

API = "/api/v1/jobs"
DAY = "2026-12-01"
TRICKY_TITLE = 'Pérdida "gas" \\ cocina\ttab\nlínea \u0001 / <b> ñandú 🔧'


async def _create(client: httpx.AsyncClient, who: Session, team: Team, **fields: Any) -> dict[str, Any]:
    body = {"customerId": team.customer["id"], "title": "Caldera"} | fields
    response = await client.post(API, headers=who.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _seed(client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection) -> list[dict[str, Any]]:
    address = team.customer["addresses"][0]["id"]
    jobs = [
        await _create(
            client,
            team.owner,
            team,
            title=TRICKY_TITLE,
            serviceType="Gas",
            addressId=address,
            scheduledStart=f"{DAY}T09:00:00-03:00",
            scheduledEnd=f"{DAY}T10:30:00.250000-03:00",
            technicianIds=[team.tech.user_id, team.other_tech.user_id],
        ),
        await _create(
            client, team.owner, team, scheduledStart=f"{DAY}T09:00:00-03:00", technicianIds=[team.tech.user_id]
        ),
        await _create(
            client,
            team.owner,
            team,
            scheduledStart=f"{DAY}T23:59:59.999999-03:00",
            technicianIds=[team.other_tech.user_id],
        ),
        await _create(client, team.owner, team, scheduledStart="2026-12-02T00:00:00-03:00"),
        await _create(client, team.owner, team, priority="urgent"),  # not scheduled: last
        await _create(client, team.owner, team, priority="low"),
    ]
    # a scheduled one and a cancelled one; one instant with no microseconds at all
    await admin_conn.execute("UPDATE jobs SET status = 'scheduled' WHERE id = $1", uuid.UUID(jobs[1]["id"]))
    await admin_conn.execute("UPDATE jobs SET status = 'cancelled' WHERE id = $1", uuid.UUID(jobs[5]["id"]))
    await admin_conn.execute(
        "UPDATE jobs SET created_at = '2026-11-20T12:00:00Z' WHERE id = $1", uuid.UUID(jobs[2]["id"])
    )
    return jobs


async def _reference(resources: Resources, who: Session, **filters: Any) -> bytes:
    token_ctx = context_from_token(_decoded(resources.settings, who))
    async with tenant_transaction(resources.sessionmaker, token_ctx.org_id, token_ctx.user_id) as session:
        page = await services.list_jobs(session, token_ctx, **filters)
    return msgspec.json.encode(page)


def _decoded(settings: Settings, who: Session) -> Any:
    from litestar.security.jwt import Token

    assert settings.secret_key
    return Token.decode(who.access, settings.secret_key, "HS256")


async def test_body_is_byte_for_byte_the_reference(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    jobs = await _seed(client, team, admin_conn)
    day = datetime.date.fromisoformat(DAY)
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {}),
        ({"date": DAY}, {"day": day}),
        ({"date": "2026-12-02"}, {"day": datetime.date(2026, 12, 2)}),
        ({"date": "2030-01-01"}, {"day": datetime.date(2030, 1, 1)}),
        ({"status": ["scheduled", "cancelled"]}, {"status": [JobStatus.SCHEDULED, JobStatus.CANCELLED]}),
        ({"technicianId": team.other_tech.user_id}, {"technician_id": uuid.UUID(team.other_tech.user_id)}),
        ({"customerId": team.customer["id"], "date": DAY}, {"customer_id": uuid.UUID(team.customer["id"]), "day": day}),
        ({"limit": 2, "offset": 1}, {"limit": 2, "offset": 1}),
        ({"offset": 50}, {"offset": 50}),
    ]
    for who in (team.owner, team.tech):
        for params, filters in cases:
            response = await client.get(API, headers=who.headers, params=params)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("application/json")
            assert response.content == await _reference(resources, who, **filters), (who.body["user"]["role"], params)
    # and the page is what a person expects: the day's jobs in time order, the tricky title intact
    listed = (await client.get(API, headers=team.owner.headers, params={"date": DAY})).json()
    assert listed["total"] == 3
    assert [j["id"] for j in listed["items"]] == [jobs[1]["id"], jobs[0]["id"], jobs[2]["id"]]  # newest first on ties
    assert listed["items"][1]["title"] == TRICKY_TITLE
    assert listed["items"][1]["technicianIds"] == sorted([team.tech.user_id, team.other_tech.user_id])
    assert listed["items"][1]["scheduledEnd"] == "2026-12-01T13:30:00.250000Z"
    assert listed["items"][2]["createdAt"] == "2026-11-20T12:00:00Z"


async def test_technician_sees_only_assigned_jobs(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    jobs = await _seed(client, team, admin_conn)
    mine = await client.get(API, headers=team.tech.headers, params={"date": DAY})
    assert [j["id"] for j in mine.json()["items"]] == [jobs[1]["id"], jobs[0]["id"]]
    assert mine.json()["total"] == 2
    # asking for a colleague's jobs answers only the ones shared with them
    asked = await client.get(API, headers=team.tech.headers, params={"technicianId": team.other_tech.user_id})
    assert [j["id"] for j in asked.json()["items"]] == [jobs[0]["id"]]
    everything = await client.get(API, headers=team.other_tech.headers)
    assert {j["id"] for j in everything.json()["items"]} == {jobs[0]["id"], jobs[2]["id"]}
    # the dispatcher sees the whole day
    assert (await client.get(API, headers=team.dispatcher.headers, params={"date": DAY})).json()["total"] == 3


async def test_two_organisations_never_see_each_other(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    ours = await _seed(client, team, admin_conn)
    other = await sign_up(client, resources, "Otra Plomería SRL")
    customer = await client.post(
        "/api/v1/customers", headers=other.headers, json={"name": "Vecina", "phone": "+5491160000001"}
    )
    assert customer.status_code == 201, customer.text
    theirs = await client.post(
        API,
        headers=other.headers,
        json={"customerId": customer.json()["id"], "title": "Pérdida", "scheduledStart": f"{DAY}T11:00:00-03:00"},
    )
    assert theirs.status_code == 201, theirs.text
    their_page = (await client.get(API, headers=other.headers, params={"date": DAY})).json()
    assert [j["id"] for j in their_page["items"]] == [theirs.json()["id"]] and their_page["total"] == 1
    our_page = (await client.get(API, headers=team.owner.headers, params={"date": DAY})).json()
    assert theirs.json()["id"] not in {j["id"] for j in our_page["items"]} and our_page["total"] == 3
    # naming the other organisation's customer or technician finds nothing
    for params in ({"customerId": team.customer["id"]}, {"technicianId": team.tech.user_id}):
        crossed = (await client.get(API, headers=other.headers, params=params)).json()
        assert crossed["items"] == [] and crossed["total"] == 0
    assert len(ours) == 6


async def test_the_pool_keeps_no_tenant_between_requests(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    await _seed(client, team, admin_conn)
    assert (await client.get(API, headers=team.owner.headers)).json()["total"] == 6
    assert (await client.get(API, headers=team.owner.headers, params={"date": DAY})).json()["total"] == 3
    pool = await resources.pg_pool()
    async with pool.acquire() as conn:  # whichever connection served the request
        assert not await conn.fetchval("SELECT current_setting('app.org_id', true)")
        assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
        assert await conn.fetchval("SELECT count(*) FROM jobs") == 0  # row-level security: no tenant, no rows
        assert await conn.fetchval("SELECT current_user") == "campotech_app"


async def test_bad_input_is_a_4xx_with_a_stable_code(client: httpx.AsyncClient, team: Team) -> None:
    for params in ({"date": "mañana"}, {"limit": 0}, {"limit": 10_000}, {"offset": -1}, {"status": "volando"}):
        response = await client.get(API, headers=team.owner.headers, params=params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.json()["code"] and response.json()["message"], params
    assert (await client.get(API)).status_code == 401


async def test_session_check_and_rate_limit_count_each_request_once(
    client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    first = await client.get(API, headers=team.owner.headers)
    second = await client.get(API, headers=team.owner.headers)
    assert first.status_code == second.status_code == 200
    used = int(first.headers["x-ratelimit-remaining"]) - int(second.headers["x-ratelimit-remaining"])
    assert used == 1
    session_id = _decoded(resources.settings, team.owner).extras["sid"]
    await resources.redis.set(REVOKED_SESSION_PREFIX + session_id, b"1")
    refused = await client.get(API, headers=team.owner.headers)
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    # a refused session is not counted: a colleague behind the same address sees one hit used, not two
    after = await client.get(API, headers=team.dispatcher.headers)
    assert int(second.headers["x-ratelimit-remaining"]) - int(after.headers["x-ratelimit-remaining"]) == 1


async def test_a_flushed_redis_script_is_loaded_again(
    client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    before = await client.get(API, headers=team.owner.headers)
    await resources.redis.script_flush()  # as after a Redis restart
    after = await client.get(API, headers=team.owner.headers)
    assert before.status_code == after.status_code == 200
    assert int(before.headers["x-ratelimit-remaining"]) - int(after.headers["x-ratelimit-remaining"]) == 1
