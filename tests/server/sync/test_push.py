"""Push over the API on real PostgreSQL: an offline day, replays, one bad operation, batch limits, conflicts."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from tests.server.sync.conftest import API, Team, op, pull_all, push, scheduled_job, sign


async def job_state(admin_conn: asyncpg.Connection, job_id: str) -> dict[str, Any]:
    row = await admin_conn.fetchrow(
        "SELECT status::text AS status, version, completion_notes, actual_minutes,"
        " (SELECT count(*) FROM job_notes n WHERE n.job_id = j.id) AS notes,"
        " (SELECT count(*) FROM job_status_events e WHERE e.job_id = j.id) AS moves"
        " FROM jobs j WHERE id = $1",
        uuid.UUID(job_id),
    )
    return dict(row)


async def test_an_offline_day_of_twenty_jobs_arrives_whole_and_replays_change_nothing(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    jobs = [await scheduled_job(client, team, team.tech, title=f"Visita {n}") for n in range(20)]
    for job in jobs:  # the signatures went up through the attachments queue before the outbox
        await sign(client, team.tech, job["id"])
    outbox: list[dict[str, Any]] = []
    for n, job in enumerate(jobs):
        version = job["version"]
        outbox += [
            op(job["id"], "job.transition", {"event": "start_travel", "lat": -34.56, "lng": -58.45}, version),
            op(job["id"], "job.transition", {"event": "start_work"}, version),
            op(job["id"], "job.note", {"id": str(uuid.uuid4()), "body": f"Se cambió el flexible {n}"}, version),
            op(
                job["id"],
                "job.complete",
                {"completionNotes": f"Listo {n}", "actualMinutes": 30 + n},
                version,
            ),
        ]
    batches = [outbox[i : i + 50] for i in range(0, len(outbox), 50)]
    results = [r for batch in batches for r in await push(client, team.tech, batch)]
    assert len(results) == 80
    assert {r["status"] for r in results} <= {"applied", "merged"}, [r for r in results if r["status"] == "rejected"]
    last = results[-1]["record"]
    assert last["status"] == "completed" and last["completionNotes"] == "Listo 19" and last["actualMinutes"] == 49

    before = {}
    for n, job in enumerate(jobs):
        state = await job_state(admin_conn, job["id"])
        assert state["status"] == "completed" and state["completion_notes"] == f"Listo {n}"
        assert state["actual_minutes"] == 30 + n and state["notes"] == 1
        before[job["id"]] = state
    note_record = results[2]["record"]
    assert note_record["body"] == "Se cambió el flexible 0" and note_record["clientId"] == outbox[2]["payload"]["id"]

    # the connection dropped before the answers arrived: the phone sends both batches again
    replayed = [r for batch in batches for r in await push(client, team.tech, batch)]
    assert [r["status"] for r in replayed] == ["duplicate"] * 80
    assert replayed[-1]["record"]["status"] == "completed"
    for job in jobs:
        assert await job_state(admin_conn, job["id"]) == before[job["id"]]

    # and the server's pull gives the phone its completed jobs back (nothing duplicated)
    upserts, _, _ = await pull_all(client, team.tech)
    assert {r["status"] for r in upserts["jobs"].values()} == {"completed"}
    assert len(upserts["job_notes"]) == 20


async def test_one_bad_operation_is_rejected_and_the_rest_applies(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    first = await scheduled_job(client, team, team.tech)
    second = await scheduled_job(client, team, team.tech)
    not_mine = await scheduled_job(client, team, team.other_tech)
    batch = [
        op(first["id"], "job.transition", {"event": "start_travel"}, first["version"]),
        op(first["id"], "job.teleport", {}),  # an operation of a future app version
        op(second["id"], "job.transition", {"event": "complete"}, second["version"]),  # scheduled → completed
        op(second["id"], "job.note", {"body": "   "}),
        op(second["id"], "job.transition", {"event": "start_travel", "lat": 500}),  # not a latitude
        op(not_mine["id"], "job.transition", {"event": "start_travel"}),
        op(second["id"], "job.transition", {"event": "start_travel"}, second["version"]),
    ]
    results = await push(client, team.tech, batch)
    statuses = [(r["status"], r["code"]) for r in results]
    assert statuses == [
        ("applied", None),
        ("rejected", "sync.unknown_operation"),
        ("rejected", "job_transition_not_allowed"),
        ("rejected", "validation_failed"),
        ("rejected", "sync.operation_invalid"),
        ("rejected", "not_found"),
        ("applied", None),
    ]
    for result in results[1:6]:
        assert result["message"]  # a reason in Spanish the technician can read
    assert results[1]["record"]["status"] == "en_camino"  # the server's record (after op 0) to show next to theirs
    assert results[5]["record"] is None  # another technician's job is not revealed
    assert "cargo" in results[5]["message"]
    assert (await job_state(admin_conn, first["id"]))["status"] == "en_camino"
    assert (await job_state(admin_conn, second["id"]))["status"] == "en_camino"
    assert (await job_state(admin_conn, not_mine["id"]))["status"] == "scheduled"

    stored = await admin_conn.fetch(
        "SELECT status::text, reason FROM sync_operations WHERE id = ANY($1::uuid[])", [o["opId"] for o in batch]
    )
    assert sorted(r["status"] for r in stored) == ["applied"] * 2 + ["rejected"] * 5
    replay = await push(client, team.tech, batch)  # a replayed rejection still says why
    assert [(r["status"], r["code"]) for r in replay][1] == ("duplicate", "sync.unknown_operation")

    twice = op(first["id"], "job.note", {"body": "Una sola vez"})
    in_one_batch = await push(client, team.tech, [twice, twice])  # the outbox sent the same op twice
    assert [r["status"] for r in in_one_batch] == ["applied", "duplicate"]
    assert in_one_batch[1]["record"] == in_one_batch[0]["record"] and in_one_batch[1]["record"]["body"]
    assert (await job_state(admin_conn, first["id"]))["notes"] == 1


async def test_oversized_and_malformed_batches_get_a_4xx(client: httpx.AsyncClient, team: Team) -> None:
    job = await scheduled_job(client, team, team.tech)
    too_many = [op(job["id"], "job.note", {"body": f"nota {n}"}) for n in range(51)]
    response = await client.post(
        f"{API}/sync/push", headers=team.tech.headers, json={"deviceId": "tel", "operations": too_many}
    )
    assert response.status_code == 413 and response.json()["code"] == "sync.batch_too_large"
    assert "50" in response.json()["message"]
    notes = await client.get(f"{API}/jobs/{job['id']}/notes", headers=team.tech.headers)
    assert notes.json() == []  # nothing of a refused batch was applied
    for body in (
        b"{not json",
        b'{"deviceId": "tel"}',
        b'{"deviceId": "tel", "operations": [{"opId": "no-es-uuid", "entity": "job", "entityId": "x", "op": "a"}]}',
    ):
        bad = await client.post(
            f"{API}/sync/push", headers=team.tech.headers | {"Content-Type": "application/json"}, content=body
        )
        assert 400 <= bad.status_code < 500, bad.text
        assert bad.json()["code"] in {"malformed_request", "validation_failed"}


async def test_job_cancelled_on_the_server_while_completed_offline(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await scheduled_job(client, team, team.tech)
    version = job["version"]
    await sign(client, team.tech, job["id"])
    # the dispatcher cancels while the technician, offline, travels, works and completes
    cancelled = await client.post(
        f"{API}/jobs/{job['id']}/transitions",
        headers=team.dispatcher.headers,
        json={"event": "cancel", "reason": "El cliente llamó para cancelar"},
    )
    assert cancelled.status_code == 200, cancelled.text
    completion = {"completionNotes": "Cambié la bomba", "actualMinutes": 90, "materials": [{"description": "Bomba"}]}
    results = await push(
        client,
        team.tech,
        [
            op(job["id"], "job.transition", {"event": "start_travel"}, version),
            op(job["id"], "job.transition", {"event": "start_work"}, version),
            op(job["id"], "job.complete", completion, version),
            op(job["id"], "job.note", {"body": "El cliente no sabía de la cancelación"}, version),
        ],
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "applied"]
    for result in results[:3]:
        assert result["code"] == "sync.job_cancelled_on_server"
        assert "canceló" in result["message"]
        assert result["record"]["status"] == "cancelled"
    kept = results[2]["conflict"]
    assert kept["kind"] == "sync.job_cancelled_on_server"
    assert kept["deviceData"]["payload"] == completion  # what the technician entered comes back whole
    assert (await job_state(admin_conn, job["id"]))["status"] == "cancelled"

    # the office sees it; the technician may not list the office's conflicts
    listed = await client.get(f"{API}/sync/conflicts", headers=team.dispatcher.headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 3 and {i["entityId"] for i in items} == {job["id"]}
    complete_conflict = next(i for i in items if i["op"] == "job.complete")
    assert complete_conflict["deviceData"]["payload"]["completionNotes"] == "Cambié la bomba"
    assert complete_conflict["serverData"]["status"] == "cancelled"
    assert complete_conflict["userId"] == team.tech.user_id and complete_conflict["acknowledgedAt"] is None
    refused = await client.get(f"{API}/sync/conflicts", headers=team.tech.headers)
    assert refused.status_code == 403

    acked = await client.post(
        f"{API}/sync/conflicts/{complete_conflict['id']}/acknowledge", headers=team.dispatcher.headers
    )
    assert acked.status_code == 200 and acked.json()["acknowledgedById"] == team.dispatcher.user_id
    still_open = (await client.get(f"{API}/sync/conflicts", headers=team.dispatcher.headers)).json()["items"]
    assert complete_conflict["id"] not in {i["id"] for i in still_open} and len(still_open) == 2
    everything = await client.get(
        f"{API}/sync/conflicts", headers=team.dispatcher.headers, params={"includeAcknowledged": "true"}
    )
    assert len(everything.json()["items"]) == 3
    missing = await client.post(f"{API}/sync/conflicts/{uuid.uuid4()}/acknowledge", headers=team.owner.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "sync.conflict_not_found"


async def test_stale_moves_merge_by_the_servers_status(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await scheduled_job(client, team, team.tech)
    version = job["version"]
    # the technician phoned in: the dispatcher marked them en camino on the server
    phoned = await client.post(
        f"{API}/jobs/{job['id']}/transitions", headers=team.dispatcher.headers, json={"event": "start_travel"}
    )
    assert phoned.status_code == 200
    results = await push(
        client,
        team.tech,
        [
            op(job["id"], "job.transition", {"event": "start_travel"}, version),  # already done: merged
            op(job["id"], "job.transition", {"event": "start_work"}, version),  # valid from en camino: merged
            op(job["id"], "job.progress", {"actualMinutes": 40, "completionNotes": "Falta repuesto"}, version),
            op(job["id"], "job.transition", {"event": "stop_travel"}, version),  # no longer applies: stale
        ],
    )
    assert [r["status"] for r in results] == ["merged", "merged", "merged", "rejected"]
    assert results[1]["record"]["status"] == "working"
    assert results[2]["record"]["actualMinutes"] == 40  # progress fields: the technician wins
    assert results[3]["code"] == "sync.transition_stale" and results[3]["conflict"]["deviceData"]["op"]
    state = await job_state(admin_conn, job["id"])
    assert state["status"] == "working" and state["completion_notes"] == "Falta repuesto"
    # stale refusals are the device's business: no office conflict for them
    assert (await client.get(f"{API}/sync/conflicts", headers=team.owner.headers)).json()["items"] == []


async def test_an_op_id_of_another_organisation_is_not_replayed(
    client: httpx.AsyncClient, resources: Any, team: Team
) -> None:
    from tests.server.auth.conftest import sign_up
    from tests.server.sync.conftest import new_customer

    job = await scheduled_job(client, team, team.tech)
    operation = op(job["id"], "job.note", {"body": "primera"})
    assert (await push(client, team.tech, [operation]))[0]["status"] == "applied"
    stranger = await sign_up(client, resources, "Otra Empresa SA")
    customer = await new_customer(client, stranger, "Cliente ajeno")
    created = await client.post(
        f"{API}/jobs", headers=stranger.headers, json={"customerId": customer["id"], "title": "Otro"}
    )
    theirs = op(created.json()["id"], "job.note", {"body": "ajena"})
    theirs["opId"] = operation["opId"]
    result = (await push(client, stranger, [theirs]))[0]
    assert result["status"] == "rejected" and result["code"] == "sync.op_id_reused"
    assert result["record"] is None or result["record"]["id"] == created.json()["id"]
