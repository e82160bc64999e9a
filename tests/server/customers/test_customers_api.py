"""Customers through the API: CRUD, duplicate phones, documents, search, archive, addresses, history, roles."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import asyncpg
import httpx

from server.runtime import Resources
from shared.fiscal.cuit import make_cuit
from tests.server.auth.conftest import Session, add_member, random_cuit, random_phone, sign_up

API = "/api/v1/customers"


def mobile() -> str:
    return random_phone()


async def create(client: httpx.AsyncClient, who: Session, **fields: Any) -> dict[str, Any]:
    body = {"name": "Cliente", "phone": mobile()} | fields
    response = await client.post(API, headers=who.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_read_update(client: httpx.AsyncClient, owner: Session) -> None:
    cuit = random_cuit("30")
    created = await create(
        client,
        owner,
        name="  Consorcio Av. Rivadavia 1234 ",
        phone="011 15-5555-0101",
        otherPhones=["+54 9 11 5555-0102"],
        email="admin@consorcio.com.ar",
        docType="cuit",
        docNumber=f"{cuit[:2]}-{cuit[2:10]}-{cuit[10]}",
        notes="Pagan a 30 días",
        addresses=[{"street": "Av. Rivadavia 1234", "city": "CABA", "reference": "timbre 3B", "zone": "caba"}],
    )
    assert created["name"] == "Consorcio Av. Rivadavia 1234"
    assert created["phone"] == "+5491155550101"
    assert created["otherPhones"] == ["+5491155550102"]
    assert created["docNumber"] == cuit
    assert created["ivaCondition"] == "responsable_inscripto"  # a company's CUIT
    assert created["addresses"][0]["isDefault"] is True and created["addresses"][0]["reference"] == "timbre 3B"

    got = await client.get(f"{API}/{created['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json() == created

    patched = await client.patch(
        f"{API}/{created['id']}", headers=owner.headers, json={"ivaCondition": "exento", "notes": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["ivaCondition"] == "exento" and patched.json()["notes"] is None
    # a DNI makes the suggestion consumidor final
    dni = await client.patch(
        f"{API}/{created['id']}", headers=owner.headers, json={"docType": "dni", "docNumber": "12.345.678"}
    )
    assert dni.json()["docNumber"] == "12345678" and dni.json()["ivaCondition"] == "consumidor_final"


async def test_person_cuit_suggests_monotributista_and_none_means_consumidor_final(
    client: httpx.AsyncClient, owner: Session
) -> None:
    person = await create(client, owner, docType="cuit", docNumber=make_cuit("20", "12345678"))
    assert person["ivaCondition"] == "monotributista"
    nobody = await create(client, owner)
    assert nobody["docType"] == "none" and nobody["docNumber"] is None
    assert nobody["ivaCondition"] == "consumidor_final"
    chosen = await create(client, owner, docType="dni", docNumber="30111222", ivaCondition="exento")
    assert chosen["ivaCondition"] == "exento"


async def test_duplicate_phone_is_409_naming_the_existing_customer(client: httpx.AsyncClient, owner: Session) -> None:
    phone = mobile()
    first = await create(client, owner, name="Marta Pérez", phone=phone)
    local = "11 " + phone[-8:-4] + "-" + phone[-4:]  # the same number written the local way
    again = await client.post(API, headers=owner.headers, json={"name": "Otra Marta", "phone": local})
    assert again.status_code == 409, again.text
    body = again.json()
    assert body["code"] == "customer_phone_duplicate"
    assert body["details"]["existingCustomerId"] == first["id"]
    assert body["details"]["existingCustomerName"] == "Marta Pérez"
    # nor by editing another customer onto it
    other = await create(client, owner)
    moved = await client.patch(f"{API}/{other['id']}", headers=owner.headers, json={"phone": phone})
    assert moved.status_code == 409 and moved.json()["details"]["existingCustomerId"] == first["id"]
    # once the first is archived the phone is free again
    assert (await client.post(f"{API}/{first['id']}/archive", headers=owner.headers)).status_code == 200
    assert (await client.post(API, headers=owner.headers, json={"name": "Nueva", "phone": phone})).status_code == 201


async def test_the_same_phone_in_another_org_is_fine(
    client: httpx.AsyncClient, resources: Resources, owner: Session
) -> None:
    phone = mobile()
    await create(client, owner, phone=phone)
    org_b = await sign_up(client, resources, name="Otra SRL")
    await create(client, org_b, phone=phone)


async def test_bad_documents_and_phones_are_422_naming_the_problem(client: httpx.AsyncClient, owner: Session) -> None:
    good = make_cuit("20", "12345678")
    bad_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    cases = [
        ({"docType": "cuit", "docNumber": bad_digit}, "check_digit"),
        ({"docType": "cuit", "docNumber": "2012345"}, "length"),
        ({"docType": "cuil", "docNumber": make_cuit("30", "12345678")}, "prefix"),
        ({"docType": "dni", "docNumber": "123"}, "length"),
        ({"docType": "dni", "docNumber": "12a45678"}, "not_digits"),
        ({"docType": "none", "docNumber": "12345678"}, "number_without_type"),
    ]
    for fields, problem in cases:
        response = await client.post(API, headers=owner.headers, json={"name": "X", **fields})
        assert response.status_code == 422, (fields, response.text)
        body = response.json()
        assert body["code"] == "document_invalid", body
        assert body["details"][0]["problem"] == problem and body["details"][0]["key"] == "docNumber"
        assert body["message"]  # Spanish, names the problem
    bad_phone = await client.post(API, headers=owner.headers, json={"name": "X", "phone": "12"})
    assert bad_phone.status_code == 422 and bad_phone.json()["code"] == "phone_invalid"
    assert bad_phone.json()["details"][0]["key"] == "phone"


async def test_search_by_name_tolerates_typos_and_accents(client: httpx.AsyncClient, owner: Session) -> None:
    tag = secrets.token_hex(2)
    gonzalez = await create(client, owner, name=f"Ramón González {tag}")
    gomez = await create(client, owner, name=f"Lucía Gómez {tag}")
    await create(client, owner, name=f"Pedro Fernández {tag}")

    async def ids(q: str) -> set[str]:
        response = await client.get(API, headers=owner.headers, params={"q": q})
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["items"]}

    assert gonzalez["id"] in await ids("Gonzales")  # misspelled
    assert gomez["id"] in await ids("gomez")  # no accent
    assert gomez["id"] in await ids("GÓMEZ")
    assert gonzalez["id"] in await ids("ramon")
    assert await ids("gomez") & {gonzalez["id"]} == set()
    assert gomez["id"] in await ids("lucí")  # a fragment


async def test_search_by_phone_fragment_and_document(client: httpx.AsyncClient, owner: Session) -> None:
    phone = mobile()
    cuit = random_cuit("27")
    customer = await create(client, owner, phone=phone, docType="cuit", docNumber=cuit)
    dni_customer = await create(client, owner, docType="dni", docNumber="23456789")

    async def ids(q: str) -> set[str]:
        response = await client.get(API, headers=owner.headers, params={"q": q})
        return {c["id"] for c in response.json()["items"]}

    assert customer["id"] in await ids(phone[-6:])
    assert customer["id"] in await ids(f"{phone[-8:-4]}-{phone[-4:]}")  # as written, with a dash
    assert customer["id"] in await ids(cuit)
    assert customer["id"] in await ids(f"{cuit[:2]}-{cuit[2:10]}-{cuit[10]}")
    assert dni_customer["id"] in await ids("23.456.789")


async def test_pagination_totals_and_archive(client: httpx.AsyncClient, resources: Resources) -> None:
    org = await sign_up(client, resources, name="Paginada SA")
    made = [await create(client, org, name=f"Cliente {i:02d}") for i in range(7)]
    page1 = (await client.get(API, headers=org.headers, params={"limit": 3})).json()
    page3 = (await client.get(API, headers=org.headers, params={"limit": 3, "offset": 6})).json()
    assert page1["total"] == 7 and len(page1["items"]) == 3 and page1["limit"] == 3 and page1["offset"] == 0
    assert len(page3["items"]) == 1
    assert [c["name"] for c in page1["items"]] == ["Cliente 00", "Cliente 01", "Cliente 02"]
    bad = await client.get(API, headers=org.headers, params={"limit": 0})
    assert bad.status_code in (400, 422)

    archived = await client.post(f"{API}/{made[0]['id']}/archive", headers=org.headers)
    assert archived.status_code == 200 and archived.json()["archivedAt"] is not None
    listed = (await client.get(API, headers=org.headers)).json()
    assert listed["total"] == 6 and made[0]["id"] not in {c["id"] for c in listed["items"]}
    only_archived = (await client.get(API, headers=org.headers, params={"archived": "true"})).json()
    assert [c["id"] for c in only_archived["items"]] == [made[0]["id"]]
    # still readable by id
    assert (await client.get(f"{API}/{made[0]['id']}", headers=org.headers)).status_code == 200


async def test_addresses_keep_one_default(client: httpx.AsyncClient, owner: Session) -> None:
    customer = await create(client, owner)
    base = f"{API}/{customer['id']}/addresses"
    first = await client.post(base, headers=owner.headers, json={"street": "Corrientes 100", "zone": "caba"})
    assert first.status_code == 201 and first.json()["isDefault"] is True  # the first one is the default
    second = await client.post(
        base,
        headers=owner.headers,
        json={"street": "Mitre 200", "city": "Quilmes", "province": "Buenos Aires", "postalCode": "B1878",
              "reference": "portón verde", "lat": -34.72, "lng": -58.25, "isDefault": True},
    )  # fmt: skip
    assert second.status_code == 201, second.text
    assert second.json()["lat"] == -34.72
    current = (await client.get(f"{API}/{customer['id']}", headers=owner.headers)).json()["addresses"]
    assert [(a["street"], a["isDefault"]) for a in current] == [("Mitre 200", True), ("Corrientes 100", False)]

    patched = await client.patch(
        f"{base}/{first.json()['id']}", headers=owner.headers, json={"isDefault": True, "reference": "timbre 3B"}
    )
    assert patched.status_code == 200 and patched.json()["isDefault"] is True
    current = (await client.get(f"{API}/{customer['id']}", headers=owner.headers)).json()["addresses"]
    assert sum(a["isDefault"] for a in current) == 1

    deleted = await client.delete(f"{base}/{first.json()['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    current = (await client.get(f"{API}/{customer['id']}", headers=owner.headers)).json()["addresses"]
    assert [(a["street"], a["isDefault"]) for a in current] == [("Mitre 200", True)]
    # an address of another customer is not reachable through this one
    other = await create(client, owner)
    wrong = await client.patch(f"{API}/{other['id']}/addresses/{second.json()['id']}", headers=owner.headers, json={})
    assert wrong.status_code == 404


async def test_history_lists_jobs_invoices_payments_and_messages_newest_first(
    client: httpx.AsyncClient, owner: Session, admin_conn: asyncpg.Connection
) -> None:
    customer = await create(client, owner)
    cid, org = uuid.UUID(customer["id"]), uuid.UUID(owner.org_id)
    job, invoice, payment, message = (uuid.uuid4() for _ in range(4))
    await admin_conn.execute(
        "INSERT INTO jobs (id, org_id, customer_id, title, priority, status, materials, version, created_at,"
        " updated_at)"
        " VALUES ($1, $2, $3, 'Cambio de termotanque', 'normal', 'pending', '[]', 1, now() - interval '3 days', now())",
        job, org, cid,
    )  # fmt: skip
    await admin_conn.execute(
        "INSERT INTO invoices (id, org_id, customer_id, status, net_amount, untaxed_amount, exempt_amount, iva_amount,"
        " other_taxes_amount, total_amount, currency, exchange_rate, afip_messages, paid_amount, created_at,"
        " updated_at)"
        " VALUES ($1, $2, $3, 'draft', 100, 0, 0, 21, 0, 121, 'PES', 1, '[]', 0, now() - interval '2 days', now())",
        invoice, org, cid,
    )  # fmt: skip
    await admin_conn.execute(
        "INSERT INTO payments (id, org_id, invoice_id, status, method, amount, refunded_amount, currency, installments,"
        " provider_data, created_at, updated_at)"
        " VALUES ($1, $2, $3, 'approved', 'cash', 121, 0, 'ARS', 1, '{}', now() - interval '1 day', now())",
        payment, org, invoice,
    )  # fmt: skip
    await admin_conn.execute(
        "INSERT INTO whatsapp_messages (id, org_id, customer_id, direction, status, phone, kind, body, created_at,"
        " updated_at) VALUES ($1, $2, $3, 'inbound', 'received', $4, 'text', 'Hola, ¿vienen mañana?', now(), now())",
        message, org, cid, customer["phone"],
    )  # fmt: skip
    response = await client.get(f"{API}/{customer['id']}/history", headers=owner.headers)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [(e["kind"], e["id"]) for e in entries] == [
        ("message", str(message)),
        ("payment", str(payment)),
        ("invoice", str(invoice)),
        ("job", str(job)),
    ]
    assert entries[1]["amount"] == "121.00" and entries[3]["summary"] == "Cambio de termotanque"
    assert len((await client.get(f"{API}/{customer['id']}/history?limit=2", headers=owner.headers)).json()) == 2


async def test_roles(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    customer = await create(client, owner)
    technician = await add_member(client, resources, owner, "technician")
    accountant = await add_member(client, resources, owner, "accountant")
    dispatcher = await add_member(client, resources, owner, "dispatcher")
    for who in (technician, accountant):
        assert (await client.post(API, headers=who.headers, json={"name": "No"})).status_code == 403
        patch = await client.patch(f"{API}/{customer['id']}", headers=who.headers, json={"name": "No"})
        assert patch.status_code == 403
        assert (await client.post(f"{API}/{customer['id']}/archive", headers=who.headers)).status_code == 403
        assert (await client.get(f"{API}/{customer['id']}", headers=who.headers)).status_code == 200
        assert (await client.get(API, headers=who.headers)).status_code == 200
    await create(client, dispatcher)
    assert (await client.get(API)).status_code == 401


async def test_org_isolation(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    customer = await create(client, owner, name="Secreto de A")
    address = customer["addresses"]
    address_id = (
        await client.post(f"{API}/{customer['id']}/addresses", headers=owner.headers, json={"street": "A 1"})
    ).json()["id"]
    org_b = await sign_up(client, resources, name="Competencia SA")
    for path in (f"{API}/{customer['id']}", f"{API}/{customer['id']}/history"):
        response = await client.get(path, headers=org_b.headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    listed = (await client.get(API, headers=org_b.headers, params={"q": "Secreto"})).json()
    assert listed["total"] == 0
    assert (await client.get(API, headers=org_b.headers)).json()["total"] == 0
    writes = [
        client.patch(f"{API}/{customer['id']}", headers=org_b.headers, json={"name": "Hackeado"}),
        client.post(f"{API}/{customer['id']}/archive", headers=org_b.headers),
        client.post(f"{API}/{customer['id']}/addresses", headers=org_b.headers, json={"street": "B 1"}),
        client.patch(f"{API}/{customer['id']}/addresses/{address_id}", headers=org_b.headers, json={"street": "B"}),
        client.delete(f"{API}/{customer['id']}/addresses/{address_id}", headers=org_b.headers),
    ]
    for call in writes:
        assert (await call).status_code == 404
    still = (await client.get(f"{API}/{customer['id']}", headers=owner.headers)).json()
    assert still["name"] == "Secreto de A" and still["archivedAt"] is None and len(still["addresses"]) == 1
    assert address == []


async def test_changes_are_audited_with_before_and_after(
    client: httpx.AsyncClient, owner: Session, admin_conn: asyncpg.Connection
) -> None:
    customer = await create(client, owner, name="Auditado")
    cid = uuid.UUID(customer["id"])
    await client.patch(f"{API}/{customer['id']}", headers=owner.headers, json={"name": "Auditado Bis"})
    address = (
        await client.post(f"{API}/{customer['id']}/addresses", headers=owner.headers, json={"street": "Calle 1"})
    ).json()
    await client.patch(f"{API}/{customer['id']}/addresses/{address['id']}", headers=owner.headers, json={"zone": "sur"})
    await client.delete(f"{API}/{customer['id']}/addresses/{address['id']}", headers=owner.headers)
    await client.post(f"{API}/{customer['id']}/archive", headers=owner.headers)
    rows = await admin_conn.fetch(
        "SELECT action, before, after FROM audit_log WHERE org_id = $1 AND entity_id = ANY($2::uuid[]) ORDER BY seq",
        uuid.UUID(owner.org_id),
        [cid, uuid.UUID(address["id"])],
    )
    actions = [r["action"] for r in rows]
    assert actions == [
        "customer.created",
        "customer.updated",
        "customer_address.created",
        "customer_address.updated",
        "customer_address.deleted",
        "customer.archived",
    ]
    updated = rows[1]
    assert json.loads(updated["before"]) == {"name": "Auditado"}
    assert json.loads(updated["after"]) == {"name": "Auditado Bis"}
    assert json.loads(rows[3]["after"])["zone"] == "sur" and json.loads(rows[3]["before"])["zone"] is None
