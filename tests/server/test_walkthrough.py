"""The first job, start to finish, as a new user does it through the API docs page (docs/walkthrough.md).

The app runs as in ``campotech dev``: its lifespan starts the queue workers in-process, so the side
effects of the moves (customer notifications, the draft invoice) happen on their own, after the
requests, and the test waits for them the way a person refreshing the page would.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from PIL import Image

from server.asgi import create_app
from server.domain.jobs.tasks import recorded_notifications
from server.runtime import Resources
from server.settings import Settings
from tests.conftest import running
from tests.server.auth.conftest import Session, log_in, random_phone, sign_up

API = "/api/v1"


@pytest.fixture(name="walk_client")
async def fixture_walk_client(
    settings: Settings, resources: Resources, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as `campotech dev` runs it: queue workers inside the API process."""
    app: Litestar = create_app(
        msgspec.structs.replace(
            settings,
            worker_in_process=True,
            storage_dir=tmp_path / "files",
            queue_prefix=f"t{secrets.token_hex(6)}",  # queues of its own
        ),
        resources,
    )
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


async def _until(check: Callable[[], Awaitable[Any]], seconds: float = 15.0) -> Any:
    """Poll like a person refreshing the page: the queued work lands a moment after the request."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "the queued work never showed up"
        await asyncio.sleep(0.1)
    return result


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), "darkorange").save(out, format="JPEG")
    return out.getvalue()


async def test_first_job_from_sign_up_to_draft_invoice(
    walk_client: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    client = walk_client
    # 0. the docs page, and every operation this walk uses listed on it
    assert (await client.get("/schema/swagger")).status_code == 200
    operations = {
        op["operationId"]
        for path in (await _ok(await client.get("/schema/openapi.json")))["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert {"CreateJob", "AssignJob", "TransitionJob", "AddJobNote", "UploadJobPhoto", "PutJobSignature"} <= operations
    # 1. the owner signs up, then logs in (a code by SMS/WhatsApp; the sandbox keeps it)
    signed_up = await sign_up(client, resources, "Gasista Palermo SRL")
    owner: Session = await log_in(client, resources, signed_up.phone, device="swagger")
    org_id = owner.org_id
    h = owner.headers

    # 2. the team: a technician, who logs in on their phone
    tech_phone = random_phone()
    tech_user = await _ok(
        await client.post(
            f"{API}/users", headers=h, json={"phone": tech_phone, "fullName": "Diego Fernández", "role": "technician"}
        ),
        201,
    )
    tech = await log_in(client, resources, tech_phone, device="celular de Diego")
    assert tech.user_id == str(tech_user["id"])

    # 3. the price book: a service, and the zone's price list (Palermo: +10 %)
    item = await _ok(
        await client.post(
            f"{API}/pricebook/items",
            headers=h,
            json={"code": "CAL-01", "kind": "service", "name": "Service de caldera", "basePrice": "20000"},
        ),
        201,
    )
    await _ok(
        await client.post(f"{API}/pricebook/price-lists", headers=h, json={"zone": "Palermo", "multiplier": "1.1"}),
        201,
    )

    # 4. the customer, with an address in that zone
    customer_phone = random_phone()
    customer = await _ok(
        await client.post(
            f"{API}/customers",
            headers=h,
            json={
                "name": "Marta Giménez",
                "phone": customer_phone,
                "addresses": [{"street": "Gurruchaga 1850", "reference": "timbre 3B", "zone": "Palermo"}],
            },
        ),
        201,
    )
    address_id = customer["addresses"][0]["id"]

    # 5. the job, with a line from the price book: priced for Palermo
    job = await _ok(
        await client.post(
            f"{API}/jobs",
            headers=h,
            json={
                "customerId": customer["id"],
                "addressId": address_id,
                "title": "La caldera no enciende",
                "lines": [{"pricebookItemId": item["id"]}],
            },
        ),
        201,
    )
    job_id = job["id"]
    assert job["status"] == "pending"
    assert [(line["unitPrice"], line["priceZone"]) for line in job["lines"]] == [("22000.00", "Palermo")]

    # 6. assign the technician and schedule the visit
    assigned = await _ok(
        await client.post(f"{API}/jobs/{job_id}/assign", headers=h, json={"technicianIds": [tech.user_id]})
    )
    assert [a["fullName"] for a in assigned["assignments"]] == ["Diego Fernández"]
    scheduled = await _ok(
        await client.post(
            f"{API}/jobs/{job_id}/transitions",
            headers=h,
            json={"event": "schedule", "scheduledStart": "2026-12-02T09:00:00-03:00"},
        )
    )
    assert scheduled["status"] == "scheduled"

    # 7. the technician sees the job on their phone and goes
    mine = await _ok(await client.get(f"{API}/jobs", headers=tech.headers))
    assert [j["id"] for j in mine["items"]] == [job_id]
    on_the_way = await _ok(
        await client.post(
            f"{API}/jobs/{job_id}/transitions",
            headers=tech.headers,
            json={"event": "start_travel", "deviceId": "celular-diego", "lat": -34.5875, "lng": -58.4261},
        )
    )
    assert on_the_way["status"] == "en_camino" and on_the_way["allowedEvents"] == ["stop_travel", "start_work"]
    working = await _ok(
        await client.post(f"{API}/jobs/{job_id}/transitions", headers=tech.headers, json={"to": "working"})
    )
    assert working["status"] == "working"

    # 8. a note, a photo and the customer's signature
    await _ok(
        await client.post(
            f"{API}/jobs/{job_id}/notes",
            headers=tech.headers,
            json={"body": "Termocupla quemada, la cambio", "deviceId": "celular-diego"},
        ),
        201,
    )
    photo = await _ok(
        await client.post(
            f"{API}/jobs/{job_id}/photos", headers=tech.headers | {"Content-Type": "image/jpeg"}, content=_photo()
        ),
        201,
    )
    thumbnail = await client.get(photo["thumbnailUrl"], headers=h)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    signature = await _ok(
        await client.put(
            f"{API}/jobs/{job_id}/signature",
            headers=tech.headers,
            json={"signerName": "Marta Giménez", "strokes": [[{"x": 10, "y": 10}, {"x": 120, "y": 40}]]},
        )
    )
    png = await client.get(signature["pngUrl"], headers=h)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    # 9. completed, with the closing notes, the materials used and the time it took
    done = await _ok(
        await client.post(
            f"{API}/jobs/{job_id}/transitions",
            headers=tech.headers,
            json={
                "event": "complete",
                "completionNotes": "Se cambió la termocupla; caldera funcionando",
                "actualMinutes": 70,
                "materials": [{"description": "Termocupla universal", "quantity": "1", "unit": "unidad"}],
            },
        )
    )
    assert done["status"] == "completed" and done["actualMinutes"] == 70
    assert [m["description"] for m in done["materials"]] == ["Termocupla universal"]
    assert [n["body"] for n in done["notes"]] == ["Termocupla quemada, la cambio"]

    # 10. back at the office: the draft invoice the worker made
    async def draft() -> asyncpg.Record | None:
        return await admin_conn.fetchrow(
            "SELECT id, status, customer_id, net_amount, iva_amount, total_amount FROM invoices WHERE job_id = $1",
            uuid.UUID(job_id),
        )

    invoice = await _until(draft)
    assert invoice["status"] == "draft" and str(invoice["customer_id"]) == customer["id"]
    assert (invoice["net_amount"], invoice["iva_amount"], invoice["total_amount"]) == (
        Decimal("22000.00"),
        Decimal("4620.00"),
        Decimal("26620.00"),
    )

    if "ListInvoices" in operations:  # the invoices page, once the invoicing API is served
        listed = await _ok(await client.get(f"{API}/invoices", headers=h, params={"jobId": job_id}))
        assert [(i["status"], i["totalAmount"]) for i in listed["items"]] == [("draft", "26620.00")]

    # 11. the customer was told twice: on the way, and done
    async def told() -> list[dict[str, Any]] | None:
        sent = [n for n in await recorded_notifications(resources, org_id) if n["jobId"] == job_id]
        return sent if len(sent) == 2 else None

    notifications = await _until(told)
    assert [(n["status"], n["to"]) for n in notifications] == [
        ("en_camino", customer_phone),
        ("completed", customer_phone),
    ]

    # 12. every step is in the audit log, by whom, and the chain holds
    audit = await _ok(await client.get(f"{API}/audit", headers=h, params={"entityType": "job", "entityId": job_id}))
    steps = [(e["action"], (e["after"] or {}).get("status"), e["actorId"]) for e in reversed(audit["items"])]
    assert steps == [
        ("job.created", "pending", owner.user_id),
        ("job.assigned", None, owner.user_id),
        ("job.transitioned", "scheduled", owner.user_id),
        ("job.transitioned", "en_camino", tech.user_id),
        ("job.transitioned", "working", tech.user_id),
        ("job.note_added", None, tech.user_id),
        ("job.photo_added", None, tech.user_id),
        ("job.signature_saved", None, tech.user_id),
        ("job.transitioned", "completed", tech.user_id),
    ]
    everything = await _ok(await client.get(f"{API}/audit", headers=h, params={"limit": 200}))
    actions = {e["action"] for e in everything["items"]}
    assert {"customer.created", "pricebook_item.created", "price_list.created", "invoice.draft_created"} <= actions
    assert (await _ok(await client.get(f"{API}/audit/verify", headers=h)))["ok"] is True

    # 13. and the dashboard's activity feed tells the story, newest first, with names
    feed = await _ok(await client.get(f"{API}/activity", headers=h, params={"limit": 50}))
    story = [(i["action"], i["actorName"]) for i in feed["items"] if i["entityId"] in (job_id, str(invoice["id"]))]
    assert story[0] == ("invoice.draft_created", None)  # by the worker, on nobody's behalf
    assert ("job.transitioned", "Diego Fernández") in story and story[-1] == ("job.created", "Ana")
