"""Sync tests: an organisation with a dispatcher and two technicians, two customers, jobs made through the API."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, fixture_owner, random_phone
from tests.server.jobs.conftest import jobs_subscribed

__all__ = ["Team", "fixture_owner", "jobs_subscribed"]

API = "/api/v1"
BA = ZoneInfo("America/Argentina/Buenos_Aires")


@dataclass
class Team:
    owner: Session
    dispatcher: Session
    tech: Session
    other_tech: Session
    customer: dict[str, Any]
    other_customer: dict[str, Any]


async def new_customer(client: httpx.AsyncClient, who: Session, name: str) -> dict[str, Any]:
    response = await client.post(
        f"{API}/customers",
        headers=who.headers,
        json={"name": name, "phone": random_phone(), "addresses": [{"street": f"{name} 1234"}]},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(name="team")
async def fixture_team(client: httpx.AsyncClient, resources: Resources, owner: Session) -> Team:
    dispatcher = await add_member(client, resources, owner, "dispatcher")
    tech = await add_member(client, resources, owner, "technician")
    other_tech = await add_member(client, resources, owner, "technician")
    customer = await new_customer(client, owner, "Consorcio Belgrano")
    other = await new_customer(client, owner, "Panadería Núñez")
    return Team(owner, dispatcher, tech, other_tech, customer, other)


def tomorrow_at(hour: int) -> str:
    day = datetime.datetime.now(BA).date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(hour), BA).isoformat()


async def scheduled_job(
    client: httpx.AsyncClient, team: Team, tech: Session, customer: dict[str, Any] | None = None, title: str = "Pérdida"
) -> dict[str, Any]:
    """A job created by the dispatcher and scheduled for tomorrow with ``tech``."""
    customer = customer or team.customer
    created = await client.post(
        f"{API}/jobs", headers=team.dispatcher.headers, json={"customerId": customer["id"], "title": title}
    )
    assert created.status_code == 201, created.text
    job = created.json()
    moved = await client.post(
        f"{API}/jobs/{job['id']}/transitions",
        headers=team.dispatcher.headers,
        json={"event": "schedule", "scheduledStart": tomorrow_at(10), "technicianIds": [tech.user_id]},
    )
    assert moved.status_code == 200, moved.text
    return moved.json()


async def pull(client: httpx.AsyncClient, who: Session, cursor: str | None = None, limit: int | None = None) -> Any:
    params: dict[str, Any] = {}
    if cursor is not None:
        params["cursor"] = cursor
    if limit is not None:
        params["limit"] = limit
    response = await client.get(f"{API}/sync/pull", headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def pull_all(client: httpx.AsyncClient, who: Session, cursor: str | None = None, limit: int = 500) -> Any:
    """Pull until ``hasMore`` is false; the tables merged (upserts by id, deletes), and the last cursor."""
    upserts: dict[str, dict[str, Any]] = {}
    deletes: dict[str, set[str]] = {}
    while True:
        page = await pull(client, who, cursor, limit)
        assert not page["reset"]
        for table, changes in page["tables"].items():
            for record in changes["upserts"]:
                upserts.setdefault(table, {})[record["id"]] = record
            deletes.setdefault(table, set()).update(changes["deletes"])
        cursor = page["cursor"]
        if not page["hasMore"]:
            return upserts, deletes, cursor


def ids(upserts: dict[str, dict[str, Any]], table: str) -> set[str]:
    return set(upserts.get(table, {}))


def op(
    job_id: str, name: str, payload: dict[str, Any] | None = None, base_version: int | None = None
) -> dict[str, Any]:
    return {
        "opId": str(uuid.uuid4()),
        "entity": "job",
        "entityId": job_id,
        "op": name,
        "baseVersion": base_version,
        "payload": payload or {},
        "createdAt": "2026-11-25T12:00:00Z",
    }


async def push(client: httpx.AsyncClient, who: Session, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = await client.post(
        f"{API}/sync/push", headers=who.headers, json={"deviceId": "tel-tecnico", "operations": operations}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["opId"] for r in results] == [o["opId"] for o in operations]
    return results


async def sign(client: httpx.AsyncClient, who: Session, job_id: str) -> None:
    response = await client.put(
        f"{API}/jobs/{job_id}/signature",
        headers=who.headers,
        json={"signerName": "Marta", "strokes": [[{"x": 1, "y": 1}, {"x": 20, "y": 30}]]},
    )
    assert response.status_code == 200, response.text
