"""Completing a job: the materials used, and the draft invoice the org's ``auto_invoice`` setting asks for.

The setting is the owner's (and admins'), through PATCH /organization; completing a job with billable lines
drafts its invoice only while it is on, and a job without lines never gets one.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import asyncpg
import httpx

from server.domain.jobs.tasks import create_draft_invoice
from server.runtime import Resources
from tests.server.jobs.conftest import Team
from tests.server.jobs.test_jobs_api import API, LINES, create_job, eventually, move, moved, sign, to_working

ORG = "/api/v1/organization"


async def _invoices(admin_conn: asyncpg.Connection, job_id: str) -> int:
    return int(await admin_conn.fetchval("SELECT count(*) FROM invoices WHERE job_id = $1", uuid.UUID(job_id)))


async def _complete(client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection, job_id: str) -> None:
    await to_working(client, team, job_id)
    await sign(admin_conn, team, job_id)
    await moved(client, team.tech, job_id, event="complete", completionNotes="Listo", actualMinutes=45)


async def test_owner_turns_auto_invoice_off_and_on(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    assert (await client.get(ORG, headers=team.owner.headers)).json()["autoInvoice"] is True  # the default
    for member in (team.dispatcher, team.tech):
        refused = await client.patch(ORG, headers=member.headers, json={"autoInvoice": False})
        assert refused.status_code == 403
    assert resources.queues is not None
    await resources.queues.start_workers(only=["default", "whatsapp"])
    try:
        off = await client.patch(ORG, headers=team.owner.headers, json={"autoInvoice": False})
        assert off.status_code == 200 and off.json()["autoInvoice"] is False
        assert (await client.get(ORG, headers=team.dispatcher.headers)).json()["autoInvoice"] is False
        while_off = await create_job(client, team.owner, team, lines=LINES)
        await _complete(client, team, admin_conn, while_off["id"])

        on = await client.patch(ORG, headers=team.owner.headers, json={"autoInvoice": True})
        assert on.status_code == 200 and on.json()["autoInvoice"] is True
        while_on = await create_job(client, team.owner, team, lines=LINES)
        await _complete(client, team, admin_conn, while_on["id"])
        no_lines = await create_job(client, team.owner, team)
        await _complete(client, team, admin_conn, no_lines["id"])

        async def drafted() -> bool:
            return await _invoices(admin_conn, while_on["id"]) == 1

        await eventually(drafted)
    finally:
        await resources.queues.stop_workers()
    invoice = await admin_conn.fetchrow(
        "SELECT status, total_amount FROM invoices WHERE job_id = $1", uuid.UUID(while_on["id"])
    )
    assert invoice["status"] == "draft" and invoice["total_amount"] == Decimal("37616.66")
    # the job completed while the setting was off never gets one, nor does the job with nothing to bill
    assert await _invoices(admin_conn, while_off["id"]) == 0
    assert await _invoices(admin_conn, no_lines["id"]) == 0
    assert await resources.queues.queue("default").job(f"jobs:invoice:{no_lines['id']}") is None
    assert await create_draft_invoice({"resources": resources}, org_id=team.owner.org_id, job_id=no_lines["id"]) is None
    changes = await admin_conn.fetch(
        "SELECT actor_id, before, after FROM audit_log WHERE org_id = $1 AND action = 'organization.updated'"
        " ORDER BY seq",
        uuid.UUID(team.owner.org_id),
    )
    assert [(str(c["actor_id"]), json.loads(c["before"]), json.loads(c["after"])) for c in changes] == [
        (team.owner.user_id, {"autoInvoice": True}, {"autoInvoice": False}),
        (team.owner.user_id, {"autoInvoice": False}, {"autoInvoice": True}),
    ]


async def test_completion_records_the_materials_used(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    item = await client.post(
        "/api/v1/pricebook/items",
        headers=team.owner.headers,
        json={"code": f"C{uuid.uuid4().hex[:6]}", "kind": "material", "name": "Caño 1/2", "unit": "metro",
              "basePrice": "900"},
    )  # fmt: skip
    assert item.status_code == 201, item.text
    job = await create_job(client, team.owner, team)
    await to_working(client, team, job["id"])
    await sign(admin_conn, team, job["id"])
    bad = await move(
        client, team.tech, job["id"], event="complete", completionNotes="ok", actualMinutes=30,
        materials=[{"description": "Teflón", "quantity": "0"}],
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["details"] == [{"key": "materials[0].quantity", "problem": "invalid"}]
    ghost = await move(
        client, team.tech, job["id"], event="complete", completionNotes="ok", actualMinutes=30,
        materials=[{"pricebookItemId": str(uuid.uuid4())}],
    )  # fmt: skip
    assert ghost.status_code == 422 and ghost.json()["details"]["key"] == "materials[0].pricebookItemId"
    assert (await client.get(f"{API}/{job['id']}", headers=team.owner.headers)).json()["status"] == "working"
    done = await moved(
        client, team.tech, job["id"], event="complete", completionNotes="Se cambió el caño", actualMinutes=90,
        materials=[
            {"pricebookItemId": item.json()["id"], "quantity": "2.5"},
            {"description": "Teflón", "unit": "rollo"},
        ],
    )  # fmt: skip
    assert done["status"] == "completed" and done["actualMinutes"] == 90
    assert done["materials"] == [
        {"description": "Caño 1/2", "pricebookItemId": item.json()["id"], "quantity": "2.5", "unit": "metro"},
        {"description": "Teflón", "pricebookItemId": None, "quantity": "1", "unit": "rollo"},
    ]
    after = await admin_conn.fetchval(
        "SELECT after FROM audit_log WHERE entity_id = $1 ORDER BY seq DESC LIMIT 1", uuid.UUID(job["id"])
    )
    assert json.loads(after)["materials"][0]["description"] == "Caño 1/2"


async def test_materials_belong_to_the_completion(client: httpx.AsyncClient, team: Team) -> None:
    job = await create_job(client, team.owner, team)
    early = await move(
        client, team.dispatcher, job["id"], event="schedule", scheduledStart="2026-12-01T10:00:00-03:00",
        technicianIds=[team.tech.user_id], materials=[{"description": "Teflón"}],
    )  # fmt: skip
    assert early.status_code == 422 and early.json()["details"][0]["key"] == "materials"
    assert (await client.get(f"{API}/{job['id']}", headers=team.owner.headers)).json()["status"] == "pending"
