"""Jobs through the API: CRUD, listing and visibility, every refusal of a move, the happy path, isolation,
assignment and scheduling, and the queued side effects (customer notifications, the draft invoice)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from server.domain.jobs.tasks import create_draft_invoice, recorded_notifications
from server.runtime import Resources
from tests.server.auth.conftest import Session, sign_up
from tests.server.jobs.conftest import Team

API = "/api/v1/jobs"

LINES = [
    {"description": "Service de caldera", "quantity": 1, "unitPrice": "25000.00"},
    {"description": "Válvula 1/2", "quantity": 2, "unitPrice": "3333.33", "ivaRate": "10.5"},
]


async def create_job(client: httpx.AsyncClient, who: Session, team: Team, **fields: Any) -> dict[str, Any]:
    body = {"customerId": team.customer["id"], "title": "Caldera no enciende"} | fields
    response = await client.post(API, headers=who.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def move(client: httpx.AsyncClient, who: Session, job_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/{job_id}/transitions", headers=who.headers, json=body)


async def moved(client: httpx.AsyncClient, who: Session, job_id: str, **body: Any) -> dict[str, Any]:
    response = await move(client, who, job_id, **body)
    assert response.status_code == 200, response.text
    return response.json()


async def sign(admin_conn: asyncpg.Connection, team: Team, job_id: str) -> None:
    await admin_conn.execute(
        "INSERT INTO job_signatures (id, org_id, job_id, signer_name, strokes, created_at, updated_at)"
        " VALUES ($1, $2, $3, 'Marta', '[]', now(), now())",
        uuid.uuid4(), uuid.UUID(team.owner.org_id), uuid.UUID(job_id),
    )  # fmt: skip


async def to_working(client: httpx.AsyncClient, team: Team, job_id: str) -> None:
    await moved(
        client,
        team.dispatcher,
        job_id,
        event="schedule",
        scheduledStart="2026-12-01T10:00:00-03:00",
        technicianIds=[team.tech.user_id],
    )
    await moved(client, team.tech, job_id, event="start_travel", deviceId="tel-1", lat=-34.56, lng=-58.45)
    await moved(client, team.tech, job_id, to="working")


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------------------------- CRUD


async def test_create_read_patch_and_list(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    address_id = team.customer["addresses"][0]["id"]
    job = await create_job(
        client,
        team.dispatcher,
        team,
        addressId=address_id,
        description="Hace ruido y se apaga",
        serviceType="gas",
        priority="high",
        estimatedMinutes=90,
        technicianIds=[team.tech.user_id],
        lines=LINES,
    )
    assert job["status"] == "pending" and job["version"] == 1 and job["priority"] == "high"
    assert job["addressId"] == address_id
    assert [a["technicianId"] for a in job["assignments"]] == [team.tech.user_id]
    assert [(e["fromStatus"], e["toStatus"]) for e in job["statusEvents"]] == [(None, "pending")]
    # 25000 @ 21 % + 2 × 3333.33 @ 10.5 %
    assert Decimal(job["netAmount"]) == Decimal("31666.66")
    assert Decimal(job["ivaAmount"]) == Decimal("5250.00") + Decimal("700.00")
    assert Decimal(job["totalAmount"]) == Decimal("37616.66")
    assert job["allowedEvents"] == ["schedule", "cancel"]

    got = await client.get(f"{API}/{job['id']}", headers=team.owner.headers)
    assert got.status_code == 200 and got.json()["id"] == job["id"]

    patched = await client.patch(
        f"{API}/{job['id']}",
        headers=team.dispatcher.headers,
        json={"title": "Caldera: cambio de válvula", "priority": "urgent", "lines": LINES[:1]},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] == "Caldera: cambio de válvula" and body["priority"] == "urgent" and body["version"] == 2
    assert len(body["lines"]) == 1 and Decimal(body["totalAmount"]) == Decimal("30250.00")

    listed = await client.get(API, headers=team.owner.headers, params={"customerId": team.customer["id"]})
    assert listed.status_code == 200
    assert [j["id"] for j in listed.json()["items"]] == [job["id"]] and listed.json()["total"] == 1

    actions = await admin_conn.fetch(
        "SELECT action, before, after FROM audit_log WHERE entity_id = $1 ORDER BY seq", uuid.UUID(job["id"])
    )
    assert [a["action"] for a in actions] == ["job.created", "job.updated"]
    assert '"priority": "urgent"' in actions[1]["after"] and '"priority": "high"' in actions[1]["before"]


async def test_create_refuses_bad_references(client: httpx.AsyncClient, team: Team) -> None:
    base = {"customerId": team.customer["id"], "title": "X"}
    not_tech = await client.post(
        API, headers=team.owner.headers, json=base | {"technicianIds": [team.dispatcher.user_id]}
    )
    assert not_tech.status_code == 422 and not_tech.json()["code"] == "job_technician_invalid"
    assert not_tech.json()["details"]["invalid"] == [team.dispatcher.user_id]
    ghost = await client.post(API, headers=team.owner.headers, json=base | {"customerId": str(uuid.uuid4())})
    assert ghost.status_code == 422 and ghost.json()["details"]["key"] == "customerId"
    bad_address = await client.post(API, headers=team.owner.headers, json=base | {"addressId": str(uuid.uuid4())})
    assert bad_address.status_code == 422 and bad_address.json()["details"]["key"] == "addressId"
    window = await client.post(
        API,
        headers=team.owner.headers,
        json=base | {"scheduledStart": "2026-12-01T10:00:00Z", "scheduledEnd": "2026-12-01T09:00:00Z"},
    )
    assert window.status_code == 422 and window.json()["code"] == "job_schedule_invalid"
    bad_iva = await client.post(
        API, headers=team.owner.headers, json=base | {"lines": [{"description": "a", "unitPrice": "1", "ivaRate": 7}]}
    )
    assert bad_iva.status_code == 422 and bad_iva.json()["code"] == "job_line_invalid"
    technician = await client.post(API, headers=team.tech.headers, json=base)
    assert technician.status_code == 403


async def test_list_filters_by_buenos_aires_day_and_status(client: httpx.AsyncClient, team: Team) -> None:
    late = await create_job(
        client, team.owner, team, scheduledStart="2026-12-01T23:30:00-03:00"
    )  # 02:30 UTC on the 2nd
    early = await create_job(client, team.owner, team, scheduledStart="2026-12-02T00:30:00-03:00")
    params = {"customerId": team.customer["id"]}
    first = await client.get(API, headers=team.owner.headers, params=params | {"date": "2026-12-01"})
    assert [j["id"] for j in first.json()["items"]] == [late["id"]]
    second = await client.get(API, headers=team.owner.headers, params=params | {"date": "2026-12-02"})
    assert [j["id"] for j in second.json()["items"]] == [early["id"]]
    none = await client.get(API, headers=team.owner.headers, params=params | {"status": "completed"})
    assert none.json()["total"] == 0
    paged = await client.get(API, headers=team.owner.headers, params=params | {"limit": 1, "offset": 1})
    assert paged.json()["total"] == 2 and len(paged.json()["items"]) == 1


async def test_technician_sees_only_own_jobs(client: httpx.AsyncClient, team: Team) -> None:
    mine = await create_job(client, team.owner, team, technicianIds=[team.tech.user_id])
    theirs = await create_job(client, team.owner, team, technicianIds=[team.other_tech.user_id])
    listed = await client.get(API, headers=team.tech.headers)
    assert [j["id"] for j in listed.json()["items"]] == [mine["id"]]
    # asking for another technician's jobs still answers only their own
    asked = await client.get(API, headers=team.tech.headers, params={"technicianId": team.other_tech.user_id})
    assert asked.json()["items"] == []
    assert (await client.get(f"{API}/{theirs['id']}", headers=team.tech.headers)).status_code == 404
    own = await client.get(f"{API}/{mine['id']}", headers=team.tech.headers)
    assert own.status_code == 200 and own.json()["allowedEvents"] == []  # technicians do not schedule or cancel
    by_tech = await client.get(API, headers=team.owner.headers, params={"technicianId": team.other_tech.user_id})
    assert [j["id"] for j in by_tech.json()["items"]] == [theirs["id"]]


async def test_other_organisation_gets_404(client: httpx.AsyncClient, resources: Resources, team: Team) -> None:
    job = await create_job(client, team.owner, team)
    other = await sign_up(client, resources, "Otra SRL")
    assert (await client.get(f"{API}/{job['id']}", headers=other.headers)).status_code == 404
    assert (await move(client, other, job["id"], event="cancel", reason="x")).status_code == 404
    assert (await client.patch(f"{API}/{job['id']}", headers=other.headers, json={"title": "y"})).status_code == 404
    assert (await client.get(API, headers=other.headers)).json()["total"] == 0
    still = await client.get(f"{API}/{job['id']}", headers=team.owner.headers)
    assert still.json()["status"] == "pending"


# ---------------------------------------------------------------------------------------------- moves


async def test_refusals_of_moves(client: httpx.AsyncClient, team: Team) -> None:
    job = await create_job(client, team.owner, team)
    # a move the machine does not have: 409 naming where the job can go
    wrong = await move(client, team.owner, job["id"], event="start_work")
    assert wrong.status_code == 409 and wrong.json()["code"] == "job_transition_not_allowed"
    assert wrong.json()["details"]["allowed"] == ["scheduled", "cancelled"]
    assert wrong.json()["details"]["allowedEvents"] == ["schedule", "cancel"]
    by_target = await move(client, team.owner, job["id"], to="completed")
    assert by_target.status_code == 409 and by_target.json()["details"]["to"] == "completed"
    # the fields the target state needs, named as the request sends them
    missing = await move(client, team.dispatcher, job["id"], event="schedule")
    assert missing.status_code == 422 and missing.json()["code"] == "job_missing_fields"
    assert missing.json()["details"]["fields"] == ["scheduledStart", "technicianIds"]
    no_reason = await move(client, team.dispatcher, job["id"], event="cancel", reason="  ")
    assert no_reason.status_code == 422 and no_reason.json()["details"]["fields"] == ["reason"]
    bad_tech = await move(
        client,
        team.dispatcher,
        job["id"],
        event="schedule",
        scheduledStart="2026-12-01T10:00:00-03:00",
        technicianIds=[team.owner.user_id],
    )
    assert bad_tech.status_code == 422 and bad_tech.json()["code"] == "job_technician_invalid"
    neither = await move(client, team.owner, job["id"])
    assert neither.status_code == 422 and neither.json()["code"] == "validation_failed"

    await moved(
        client,
        team.dispatcher,
        job["id"],
        event="schedule",
        scheduledStart="2026-12-01T10:00:00-03:00",
        technicianIds=[team.other_tech.user_id],
    )
    # a technician on a job that is not theirs, and on cancel (a dispatcher's decision)
    unassigned = await move(client, team.tech, job["id"], event="start_travel")
    assert unassigned.status_code == 403 and unassigned.json()["code"] == "job_not_assigned"
    cancel = await move(client, team.other_tech, job["id"], event="cancel", reason="no está el cliente")
    assert cancel.status_code == 403 and cancel.json()["code"] == "job_transition_role"
    # completing needs notes or photos, the signature and the minutes
    await moved(client, team.other_tech, job["id"], event="start_travel")
    await moved(client, team.other_tech, job["id"], event="start_work")
    incomplete = await move(client, team.other_tech, job["id"], event="complete")
    assert incomplete.status_code == 422
    assert incomplete.json()["details"]["anyOf"] == [["completionNotes", "photos"], ["signature"], ["actualMinutes"]]
    # nothing of the refused moves stuck
    job_now = (await client.get(f"{API}/{job['id']}", headers=team.owner.headers)).json()
    assert job_now["status"] == "working" and job_now["version"] == 4


async def test_happy_path_records_events_and_audit(
    client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection
) -> None:
    job = await create_job(client, team.owner, team)
    await to_working(client, team, job["id"])
    await sign(admin_conn, team, job["id"])
    done = await moved(
        client, team.tech, job["id"], event="complete", completionNotes="Se cambió la válvula", actualMinutes=75
    )
    assert done["status"] == "completed" and done["version"] == 5
    assert done["completionNotes"] == "Se cambió la válvula" and done["actualMinutes"] == 75
    assert done["startedAt"] is not None and done["completedAt"] is not None and done["allowedEvents"] == []
    assert done["scheduledStart"].startswith("2026-12-01T13:00:00")
    steps = [(e["fromStatus"], e["toStatus"]) for e in done["statusEvents"]]
    assert steps == [
        (None, "pending"),
        ("pending", "scheduled"),
        ("scheduled", "en_camino"),
        ("en_camino", "working"),
        ("working", "completed"),
    ]
    travel = done["statusEvents"][2]
    assert travel["actorId"] == team.tech.user_id and travel["deviceId"] == "tel-1"
    assert travel["lat"] == -34.56 and travel["lng"] == -58.45
    rows = await admin_conn.fetch(
        "SELECT action, actor_id, after->>'status' AS status FROM audit_log WHERE entity_id = $1 ORDER BY seq",
        uuid.UUID(job["id"]),
    )
    assert [(r["action"], r["status"]) for r in rows] == [
        ("job.created", "pending"),
        ("job.transitioned", "scheduled"),
        ("job.transitioned", "en_camino"),
        ("job.transitioned", "working"),
        ("job.transitioned", "completed"),
    ]
    assert str(rows[-1]["actor_id"]) == team.tech.user_id
    closed = await client.patch(f"{API}/{job['id']}", headers=team.owner.headers, json={"title": "otra cosa"})
    assert closed.status_code == 409 and closed.json()["code"] == "job_closed"


async def test_cancel_records_reason(client: httpx.AsyncClient, team: Team) -> None:
    job = await create_job(client, team.owner, team)
    cancelled = await moved(client, team.dispatcher, job["id"], to="cancelled", reason="El cliente lo resolvió")
    assert cancelled["status"] == "cancelled" and cancelled["cancelReason"] == "El cliente lo resolvió"
    assert cancelled["cancelledAt"] is not None and cancelled["statusEvents"][-1]["reason"] == "El cliente lo resolvió"
    again = await move(client, team.dispatcher, job["id"], event="cancel", reason="x")
    assert again.status_code == 409 and again.json()["details"]["allowed"] == []


async def test_assign_and_reschedule(client: httpx.AsyncClient, team: Team, admin_conn: asyncpg.Connection) -> None:
    job = await create_job(client, team.owner, team)
    assigned = await client.post(
        f"{API}/{job['id']}/assign",
        headers=team.dispatcher.headers,
        json={"technicianIds": [team.tech.user_id, team.other_tech.user_id]},
    )
    assert assigned.status_code == 200, assigned.text
    assert {a["technicianId"] for a in assigned.json()["assignments"]} == {team.tech.user_id, team.other_tech.user_id}
    narrowed = await client.post(
        f"{API}/{job['id']}/assign", headers=team.dispatcher.headers, json={"technicianIds": [team.other_tech.user_id]}
    )
    assert [a["technicianId"] for a in narrowed.json()["assignments"]] == [team.other_tech.user_id]
    bad = await client.post(
        f"{API}/{job['id']}/assign", headers=team.dispatcher.headers, json={"technicianIds": [str(uuid.uuid4())]}
    )
    assert bad.status_code == 422
    rescheduled = await client.post(
        f"{API}/{job['id']}/reschedule",
        headers=team.dispatcher.headers,
        json={"scheduledStart": "2026-12-03T09:00:00-03:00", "scheduledEnd": "2026-12-03T11:00:00-03:00"},
    )
    assert rescheduled.status_code == 200, rescheduled.text
    assert rescheduled.json()["scheduledEnd"].startswith("2026-12-03T14:00:00")
    forbidden = await client.post(
        f"{API}/{job['id']}/reschedule", headers=team.other_tech.headers, json={"scheduledStart": None}
    )
    assert forbidden.status_code == 403
    actions = await admin_conn.fetch(
        "SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY seq", uuid.UUID(job["id"])
    )
    assert [a["action"] for a in actions] == ["job.created", "job.assigned", "job.assigned", "job.rescheduled"]


# ---------------------------------------------------------------------------------------------- side effects


async def test_side_effects_are_queued_after_commit(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    assert resources.queues is not None
    await resources.queues.start_workers(only=["whatsapp", "default"])
    try:
        job = await create_job(client, team.owner, team, lines=LINES)
        await to_working(client, team, job["id"])

        async def sent(count: int) -> bool:
            return len(await recorded_notifications(resources, team.owner.org_id)) == count

        await eventually(lambda: sent(1))
        await sign(admin_conn, team, job["id"])
        await moved(client, team.tech, job["id"], event="complete", completionNotes="ok", actualMinutes=30)
        await eventually(lambda: sent(2))

        async def invoiced() -> bool:
            count = await admin_conn.fetchval("SELECT count(*) FROM invoices WHERE job_id = $1", uuid.UUID(job["id"]))
            return bool(count)

        await eventually(invoiced)
    finally:
        await resources.queues.stop_workers()
    notes = await recorded_notifications(resources, team.owner.org_id)
    assert [(n["status"], n["template"], n["jobId"]) for n in notes] == [
        ("en_camino", "job_en_camino", job["id"]),
        ("completed", "job_completed", job["id"]),
    ]
    assert notes[0]["to"] == team.customer["phone"]
    invoice = await admin_conn.fetchrow("SELECT * FROM invoices WHERE job_id = $1", uuid.UUID(job["id"]))
    assert invoice["status"] == "draft" and str(invoice["customer_id"]) == team.customer["id"]
    assert invoice["net_amount"] == Decimal("31666.66")
    assert invoice["iva_amount"] == Decimal("5950.00")
    assert invoice["total_amount"] == Decimal("37616.66")
    lines = await admin_conn.fetch(
        "SELECT description, net_amount, iva_amount, total_amount FROM invoice_lines WHERE invoice_id = $1"
        " ORDER BY position",
        invoice["id"],
    )
    assert [(r["description"], r["total_amount"]) for r in lines] == [
        ("Service de caldera", Decimal("30250.00")),
        ("Válvula 1/2", Decimal("7366.66")),
    ]
    # a second run creates nothing more
    again = await create_draft_invoice({"resources": resources}, org_id=team.owner.org_id, job_id=job["id"])
    assert again == str(invoice["id"])
    assert await admin_conn.fetchval("SELECT count(*) FROM invoices WHERE job_id = $1", uuid.UUID(job["id"])) == 1


async def test_refused_move_notifies_nobody(client: httpx.AsyncClient, resources: Resources, team: Team) -> None:
    job = await create_job(client, team.owner, team)
    assert (await move(client, team.tech, job["id"], event="start_travel")).status_code == 409
    assert resources.queues is not None
    assert await resources.queues.queue("whatsapp").job(f"jobs:notify:{job['statusEvents'][0]['id']}") is None
    assert await recorded_notifications(resources, team.owner.org_id) == []


async def test_no_invoice_when_auto_invoice_is_off(
    client: httpx.AsyncClient, resources: Resources, team: Team, admin_conn: asyncpg.Connection
) -> None:
    off = await client.patch("/api/v1/organization", headers=team.owner.headers, json={"autoInvoice": False})
    assert off.status_code == 200, off.text
    job = await create_job(client, team.owner, team, lines=LINES)
    await to_working(client, team, job["id"])
    await sign(admin_conn, team, job["id"])
    await moved(client, team.tech, job["id"], event="complete", completionNotes="ok", actualMinutes=30)
    # not even queued; and the task itself refuses when run
    assert resources.queues is not None
    assert await resources.queues.queue("default").job(f"jobs:invoice:{job['id']}") is None
    assert await create_draft_invoice({"resources": resources}, org_id=team.owner.org_id, job_id=job["id"]) is None
    assert await admin_conn.fetchval("SELECT count(*) FROM invoices WHERE job_id = $1", uuid.UUID(job["id"])) == 0


async def test_price_book_lines_take_the_item_defaults(client: httpx.AsyncClient, team: Team) -> None:
    item = await client.post(
        "/api/v1/pricebook/items",
        headers=team.owner.headers,
        json={"code": f"V{uuid.uuid4().hex[:6]}", "kind": "material", "name": "Válvula", "basePrice": "1200.50",
              "ivaRate": "10.5"},
    )  # fmt: skip
    assert item.status_code == 201, item.text
    job = await create_job(client, team.owner, team, lines=[{"pricebookItemId": item.json()["id"], "quantity": "1.5"}])
    line = job["lines"][0]
    assert line["description"] == "Válvula" and line["pricebookItemId"] == item.json()["id"]
    assert Decimal(line["unitPrice"]) == Decimal("1200.50") and Decimal(line["ivaRate"]) == Decimal("10.5")
    assert Decimal(line["netAmount"]) == Decimal("1800.75") and Decimal(line["ivaAmount"]) == Decimal("189.08")
    ghost = await client.post(
        API,
        headers=team.owner.headers,
        json={"customerId": team.customer["id"], "title": "x", "lines": [{"pricebookItemId": str(uuid.uuid4())}]},
    )
    assert ghost.status_code == 422 and ghost.json()["details"]["key"] == "lines[0].pricebookItemId"


async def test_concurrent_moves_apply_once(client: httpx.AsyncClient, team: Team) -> None:
    job = await create_job(client, team.owner, team)
    answers = await asyncio.gather(
        *(move(client, team.dispatcher, job["id"], event="cancel", reason=f"motivo {i}") for i in range(3))
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    final = (await client.get(f"{API}/{job['id']}", headers=team.owner.headers)).json()
    assert final["version"] == 2 and [e["toStatus"] for e in final["statusEvents"]] == ["pending", "cancelled"]
