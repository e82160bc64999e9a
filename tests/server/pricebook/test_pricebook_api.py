"""The price book through the API: categories, items, price lists, complexity, resolution, CSV, roles, tenancy."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx

from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, sign_up

API = "/api/v1/pricebook"


async def new_item(client: httpx.AsyncClient, who: Session, **fields: Any) -> dict[str, Any]:
    body = {"code": f"S-{uuid.uuid4().hex[:8]}", "kind": "service", "name": "Destapación", "basePrice": "10000"}
    response = await client.post(f"{API}/items", headers=who.headers, json=body | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def test_categories_and_items_crud(client: httpx.AsyncClient, owner: Session) -> None:
    category = await client.post(f"{API}/categories", headers=owner.headers, json={"name": "Gas"})
    assert category.status_code == 201, category.text
    duplicate = await client.post(f"{API}/categories", headers=owner.headers, json={"name": "gas"})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "pricebook_category_duplicate"
    renamed = await client.patch(
        f"{API}/categories/{category.json()['id']}", headers=owner.headers, json={"name": "Gas natural", "position": 2}
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Gas natural"
    assert [c["name"] for c in (await client.get(f"{API}/categories", headers=owner.headers)).json()] == ["Gas natural"]

    item = await new_item(
        client,
        owner,
        code="GAS-01",
        name="Conexión de cocina",
        unit="servicio",
        basePrice="15000.5",
        ivaRate="10.5",
        afipProductCode="P-123",
        categoryId=category.json()["id"],
    )
    assert item["basePrice"] == "15000.50" and item["ivaRate"] == "10.50" and item["isActive"] is True
    assert (await client.get(f"{API}/items/{item['id']}", headers=owner.headers)).json() == item

    taken = await client.post(
        f"{API}/items",
        headers=owner.headers,
        json={"code": "gas-01", "kind": "material", "name": "X", "basePrice": "1"},
    )
    assert taken.status_code == 409 and taken.json()["code"] == "pricebook_code_duplicate"
    assert taken.json()["details"]["existingItemId"] == item["id"]

    for bad in ({"basePrice": "0"}, {"basePrice": "1.234"}, {"ivaRate": "19"}, {"kind": "otro"}):
        response = await client.post(
            f"{API}/items",
            headers=owner.headers,
            json={"code": "B", "kind": "service", "name": "B", "basePrice": "1"} | bad,
        )
        assert response.status_code == 422, (bad, response.text)

    patched = await client.patch(
        f"{API}/items/{item['id']}", headers=owner.headers, json={"basePrice": "16000", "isActive": False}
    )
    assert patched.status_code == 200 and patched.json()["basePrice"] == "16000.00"
    listed = (await client.get(f"{API}/items", headers=owner.headers, params={"active": "false"})).json()
    assert [i["id"] for i in listed["items"]] == [item["id"]] and listed["total"] == 1
    found = (await client.get(f"{API}/items", headers=owner.headers, params={"q": "cocina"})).json()
    assert found["total"] == 1


async def test_price_resolution(client: httpx.AsyncClient, owner: Session) -> None:
    service = await new_item(client, owner, basePrice="10000")
    material = await new_item(client, owner, kind="material", basePrice="2500")
    zoned = await new_item(client, owner, basePrice="8000")
    created = await client.post(
        f"{API}/price-lists",
        headers=owner.headers,
        json={"zone": "Zona Norte", "multiplier": "1.2", "itemPrices": [{"itemId": zoned["id"], "price": "9999.99"}]},
    )
    assert created.status_code == 201, created.text
    again = await client.post(f"{API}/price-lists", headers=owner.headers, json={"zone": "zona norte"})
    assert again.status_code == 409 and again.json()["code"] == "price_list_zone_duplicate"

    async def price(item: dict[str, Any], **params: str) -> dict[str, Any]:
        response = await client.get(f"{API}/price", headers=owner.headers, params={"itemId": item["id"], **params})
        assert response.status_code == 200, response.text
        return response.json()

    assert (await price(service))["unitPrice"] == "10000.00" and (await price(service))["source"] == "base"
    north = await price(service, zone="zona norte")
    assert north["unitPrice"] == "12000.00" and north["source"] == "zone_multiplier" and north["zone"] == "Zona Norte"
    assert (await price(service, zone="Zona Norte", complexity="urgente"))["unitPrice"] == "18000.00"
    assert (await price(service, complexity="dificil"))["unitPrice"] == "12500.00"  # default 1.25
    assert (await price(material, complexity="urgente"))["unitPrice"] == "2500.00"  # goods are not harder
    override = await price(zoned, zone="Zona Norte")
    assert override["unitPrice"] == "9999.99" and override["source"] == "zone_override"
    assert (await price(service, zone="sin lista"))["source"] == "base"

    # the org's own complexity multipliers
    assert (await client.get(f"{API}/complexity", headers=owner.headers)).json() == {
        "normal": "1.00",
        "dificil": "1.25",
        "urgente": "1.50",
    }
    changed = await client.put(f"{API}/complexity", headers=owner.headers, json={"urgente": "2"})
    assert changed.status_code == 200 and changed.json()["urgente"] == "2.00"
    assert (await price(service, complexity="urgente"))["unitPrice"] == "20000.00"
    assert (await client.put(f"{API}/complexity", headers=owner.headers, json={"dificil": "0"})).status_code == 422

    # editing the list: new multiplier, the zone prices replaced
    list_id = created.json()["id"]
    edited = await client.patch(
        f"{API}/price-lists/{list_id}", headers=owner.headers, json={"multiplier": "1.5", "itemPrices": []}
    )
    assert edited.status_code == 200 and edited.json()["itemPrices"] == []
    assert (await price(zoned, zone="Zona Norte"))["unitPrice"] == "12000.00"
    inactive = await client.patch(f"{API}/price-lists/{list_id}", headers=owner.headers, json={"isActive": False})
    assert inactive.status_code == 200
    assert (await price(service, zone="Zona Norte"))["source"] == "base"
    missing = await client.get(f"{API}/price", headers=owner.headers, params={"itemId": str(uuid.uuid4())})
    assert missing.status_code == 404


async def test_csv_import_is_all_or_nothing_with_line_numbers(client: httpx.AsyncClient, resources: Resources) -> None:
    org = await sign_up(client, resources, name="Importadora SRL")
    bad = (
        "code,name,kind,unit,base_price,iva_rate,afip_product_code,category\n"
        "A1,Destapación,service,servicio,1000,21,,Plomería\n"
        "A2,Caño,material,metro,-5,21,,Plomería\n"
        "A3,Codo,material,unidad,100,19,,\n"
        "A1,Otra vez,service,unidad,10,21,,\n"
    )
    response = await client.post(
        f"{API}/items/import", headers=org.headers | {"Content-Type": "text/csv"}, content=bad.encode()
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "pricebook_import_invalid"
    lines = [e["line"] for e in body["details"]["errors"]]
    assert lines == [3, 4, 5]
    assert all(e["message"] for e in body["details"]["errors"])
    assert (await client.get(f"{API}/items", headers=org.headers)).json()["total"] == 0  # nothing written
    assert (await client.get(f"{API}/categories", headers=org.headers)).json() == []

    good = (
        "código;nombre;tipo;unidad;precio;iva;código_afip;categoría\n"
        "A1;Destapación;servicio;servicio;1.234,50;21;;Plomería\n"
        "A2;Caño PVC 40;material;metro;850;10,5;;Plomería\n"
    )
    imported = await client.post(
        f"{API}/items/import", headers=org.headers | {"Content-Type": "text/csv"}, content=good.encode()
    )
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"created": 2, "updated": 0, "unchanged": 0, "categoriesCreated": 1}
    items = {i["code"]: i for i in (await client.get(f"{API}/items", headers=org.headers)).json()["items"]}
    assert items["A1"]["basePrice"] == "1234.50" and items["A2"]["ivaRate"] == "10.50"

    # export → import round trip changes nothing; an edited price updates just that item
    exported = await client.get(f"{API}/items.csv", headers=org.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[0].startswith("code,name,kind")
    again = await client.post(
        f"{API}/items/import", headers=org.headers | {"Content-Type": "text/csv"}, content=exported.content
    )
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "categoriesCreated": 0}
    edited = exported.text.replace("1234.50", "1300.00")
    third = await client.post(
        f"{API}/items/import", headers=org.headers | {"Content-Type": "text/csv"}, content=edited.encode()
    )
    assert third.json() == {"created": 0, "updated": 1, "unchanged": 1, "categoriesCreated": 0}
    excel = await client.get(f"{API}/items.csv", headers=org.headers, params={"excel": "true"})
    assert ";" in excel.text and "1300,00" in excel.text


async def test_roles(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    item = await new_item(client, owner)
    technician = await add_member(client, resources, owner, "technician")
    accountant = await add_member(client, resources, owner, "accountant")
    dispatcher = await add_member(client, resources, owner, "dispatcher")
    for who in (technician, accountant, dispatcher):
        assert (await client.get(f"{API}/items/{item['id']}", headers=who.headers)).status_code == 200
        assert (await client.get(f"{API}/price", headers=who.headers, params={"itemId": item["id"]})).status_code == 200
        denied = await client.post(
            f"{API}/items", headers=who.headers, json={"code": "Z", "kind": "service", "name": "Z", "basePrice": "1"}
        )
        assert denied.status_code == 403
        assert (await client.patch(f"{API}/items/{item['id']}", headers=who.headers, json={})).status_code == 403
        assert (await client.put(f"{API}/complexity", headers=who.headers, json={})).status_code == 403
        imported = await client.post(f"{API}/items/import", headers=who.headers, content=b"code\n")
        assert imported.status_code == 403


async def test_org_isolation(client: httpx.AsyncClient, resources: Resources, owner: Session) -> None:
    category = (await client.post(f"{API}/categories", headers=owner.headers, json={"name": "Secreta"})).json()
    item = await new_item(client, owner, code="SECRETO", categoryId=category["id"])
    price_list = (
        await client.post(
            f"{API}/price-lists",
            headers=owner.headers,
            json={"zone": "norte", "itemPrices": [{"itemId": item["id"], "price": "5"}]},
        )
    ).json()
    org_b = await sign_up(client, resources, name="Competencia SA")
    assert (await client.get(f"{API}/items/{item['id']}", headers=org_b.headers)).status_code == 404
    price = await client.get(f"{API}/price", headers=org_b.headers, params={"itemId": item["id"]})
    assert price.status_code == 404
    assert (await client.get(f"{API}/items", headers=org_b.headers)).json()["total"] == 0
    assert (await client.get(f"{API}/categories", headers=org_b.headers)).json() == []
    assert (await client.get(f"{API}/price-lists", headers=org_b.headers)).json() == []
    assert "SECRETO" not in (await client.get(f"{API}/items.csv", headers=org_b.headers)).text
    writes = [
        client.patch(f"{API}/items/{item['id']}", headers=org_b.headers, json={"basePrice": "1"}),
        client.patch(f"{API}/categories/{category['id']}", headers=org_b.headers, json={"name": "B"}),
        client.patch(f"{API}/price-lists/{price_list['id']}", headers=org_b.headers, json={"multiplier": "9"}),
    ]
    for call in writes:
        assert (await call).status_code == 404
    # nor can B point its own rows at A's
    own_list = await client.post(
        f"{API}/price-lists",
        headers=org_b.headers,
        json={"zone": "x", "itemPrices": [{"itemId": item["id"], "price": "1"}]},
    )
    assert own_list.status_code == 422
    own_item = await client.post(
        f"{API}/items",
        headers=org_b.headers,
        json={"code": "B1", "kind": "service", "name": "B", "basePrice": "1", "categoryId": category["id"]},
    )
    assert own_item.status_code == 422
    # the same code is free in another org
    await new_item(client, org_b, code="SECRETO")
    assert (await client.get(f"{API}/items/{item['id']}", headers=owner.headers)).json()["basePrice"] == "10000.00"


async def test_changes_are_audited(client: httpx.AsyncClient, owner: Session, admin_conn: asyncpg.Connection) -> None:
    category = (await client.post(f"{API}/categories", headers=owner.headers, json={"name": "Audit"})).json()
    item = await new_item(client, owner, basePrice="100")
    await client.patch(f"{API}/items/{item['id']}", headers=owner.headers, json={"basePrice": "120"})
    price_list = (await client.post(f"{API}/price-lists", headers=owner.headers, json={"zone": "sur"})).json()
    await client.patch(f"{API}/price-lists/{price_list['id']}", headers=owner.headers, json={"multiplier": "1.1"})
    await client.put(f"{API}/complexity", headers=owner.headers, json={"normal": "1.05"})
    rows = await admin_conn.fetch(
        "SELECT action, entity_id, before, after FROM audit_log WHERE org_id = $1 AND action LIKE ANY($2) ORDER BY seq",
        uuid.UUID(owner.org_id),
        ["pricebook%", "price_list%", "complexity%"],
    )
    by_action = {r["action"]: r for r in rows}
    assert list(by_action) == [
        "pricebook_category.created",
        "pricebook_item.created",
        "pricebook_item.updated",
        "price_list.created",
        "price_list.updated",
        "complexity_multipliers.updated",
    ]
    assert str(by_action["pricebook_category.created"]["entity_id"]) == category["id"]
    updated = by_action["pricebook_item.updated"]
    assert json.loads(updated["before"]) == {"basePrice": "100.00"}
    assert json.loads(updated["after"]) == {"basePrice": "120.00"}
    assert json.loads(by_action["price_list.updated"]["after"]) == {"multiplier": "1.1"}
    assert json.loads(by_action["complexity_multipliers.updated"]["before"]) == {"normal": "1"}
