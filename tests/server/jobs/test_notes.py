"""Job notes through the API: who may append them, what the job detail shows, the audit trail, and refusals."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx

from server.runtime import Resources
from tests.server.auth.conftest import add_member, sign_up
from tests.server.jobs.conftest import Team
from tests.server.jobs.test_jobs_api import API, create_job, moved, sign, to_working


async def add_note(client: httpx.AsyncClient, headers: dict[str, str], job_id: str, **body: object) -> httpx.Response:
    return await client.post(f"{API}/{job_id}/notes", headers=headers, json=body)


async def test_assigned_technician_and_office_append_notes_shown_on_the_job(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await create_job(client, team.owner, team, technicianIds=[team.tech.user_id])
    from_tech = await add_note(
        client, team.tech.headers, job["id"], body="  El portero pide tocar timbre 3B  ", deviceId="tel-diego"
    )
    assert from_tech.status_code == 201, from_tech.text
    note = from_tech.json()
    assert note["body"] == "El portero pide tocar timbre 3B" and note["deviceId"] == "tel-diego"
    assert note["authorId"] == team.tech.user_id and note["authorName"] == "Miembro technician"
    from_office = await add_note(client, team.dispatcher.headers, job["id"], body="El cliente confirmó por teléfono")
    assert from_office.status_code == 201, from_office.text
    assert from_office.json()["deviceId"] is None

    detail = (await client.get(f"{API}/{job['id']}", headers=team.tech.headers)).json()
    assert [(n["body"], n["authorId"]) for n in detail["notes"]] == [
        ("El portero pide tocar timbre 3B", team.tech.user_id),
        ("El cliente confirmó por teléfono", team.dispatcher.user_id),
    ]
    listed = await client.get(f"{API}/{job['id']}/notes", headers=team.owner.headers)
    assert listed.status_code == 200
    assert listed.json() == detail["notes"]

    rows = await admin_conn.fetch(
        "SELECT actor_id, after FROM audit_log WHERE entity_id = $1 AND action = 'job.note_added' ORDER BY seq",
        uuid.UUID(job["id"]),
    )
    assert [(str(r["actor_id"]), json.loads(r["after"])) for r in rows] == [
        (team.tech.user_id, {"noteId": note["id"], "body": "El portero pide tocar timbre 3B", "deviceId": "tel-diego"}),
        (
            team.dispatcher.user_id,
            {"noteId": from_office.json()["id"], "body": "El cliente confirmó por teléfono", "deviceId": None},
        ),
    ]


async def test_unassigned_technician_and_accountant_are_refused(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await create_job(client, team.owner, team, technicianIds=[team.tech.user_id])
    other = await add_note(client, team.other_tech.headers, job["id"], body="Yo también fui")
    assert other.status_code == 403 and other.json()["code"] == "job_not_assigned"
    assert "asignados" in other.json()["message"]
    # they cannot read the job's notes either: to them it does not exist
    assert (await client.get(f"{API}/{job['id']}/notes", headers=team.other_tech.headers)).status_code == 404
    accountant = await add_member(client, resources, team.owner, "accountant")
    refused = await add_note(client, accountant.headers, job["id"], body="Facturar aparte")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    # the accountant reads every job, notes included
    assert (await client.get(f"{API}/{job['id']}/notes", headers=accountant.headers)).json() == []
    count = await admin_conn.fetchval("SELECT count(*) FROM job_notes WHERE job_id = $1", uuid.UUID(job["id"]))
    assert count == 0


async def test_bad_notes_and_unknown_or_foreign_jobs(
    client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    job = await create_job(client, team.owner, team)
    blank = await add_note(client, team.owner.headers, job["id"], body="   ")
    assert blank.status_code == 422 and blank.json()["code"] == "validation_failed"
    assert blank.json()["details"] == [{"key": "body", "problem": "blank"}]
    empty = await add_note(client, team.owner.headers, job["id"], body="")
    assert empty.status_code in (400, 422) and empty.json()["code"] != "internal_error"
    too_long = await add_note(client, team.owner.headers, job["id"], body="x" * 4001)
    assert too_long.status_code in (400, 422)
    missing = await add_note(client, team.owner.headers, str(uuid.uuid4()), body="hola")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    stranger = await sign_up(client, resources, "Competencia SA")
    foreign = await add_note(client, stranger.headers, job["id"], body="hola")
    assert foreign.status_code == 404
    assert (await client.get(f"{API}/{job['id']}/notes", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"{API}/{job['id']}/notes", headers=team.owner.headers)).json() == []


async def test_a_closed_job_still_takes_notes(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await create_job(client, team.owner, team)
    await to_working(client, team, job["id"])
    await sign(admin_conn, team, job["id"])
    await moved(client, team.tech, job["id"], event="complete", completionNotes="Listo", actualMinutes=40)
    late = await add_note(client, team.tech.headers, job["id"], body="Volver en 6 meses a revisar la junta")
    assert late.status_code == 201, late.text
    detail = (await client.get(f"{API}/{job['id']}", headers=team.owner.headers)).json()
    assert detail["status"] == "completed"
    assert [n["body"] for n in detail["notes"]] == ["Volver en 6 meses a revisar la junta"]
