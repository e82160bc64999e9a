"""Job lines from the price book are priced for the customer address's zone and the job's complexity.

The org: a service (base $10.000) and a material (base $500); "Zona Norte" is the whole list × 1.2;
"Zona Sur" has its own price for the service ($9.000) and no multiplier. Complexity: normal 1, difícil
1.25, urgente 1.5 — for services only (a material costs the same on a hard job).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from tests.server.auth.conftest import Session, random_phone
from tests.server.jobs.conftest import Team
from tests.server.jobs.test_jobs_api import API


async def _post(client: httpx.AsyncClient, who: Session, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, headers=who.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(name="book")
async def fixture_book(client: httpx.AsyncClient, team: Team) -> dict[str, Any]:
    owner = team.owner
    suffix = uuid.uuid4().hex[:6]
    service = await _post(
        client,
        owner,
        "/api/v1/pricebook/items",
        {"code": f"S{suffix}", "kind": "service", "name": "Service de caldera", "basePrice": "10000"},
    )
    material = await _post(
        client,
        owner,
        "/api/v1/pricebook/items",
        {"code": f"M{suffix}", "kind": "material", "name": "Válvula", "basePrice": "500", "ivaRate": "10.5"},
    )
    await _post(client, owner, "/api/v1/pricebook/price-lists", {"zone": "Zona Norte", "multiplier": "1.2"})
    await _post(
        client,
        owner,
        "/api/v1/pricebook/price-lists",
        {"zone": "Zona Sur", "itemPrices": [{"itemId": service["id"], "price": "9000"}]},
    )
    customer = await _post(
        client,
        owner,
        "/api/v1/customers",
        {
            "name": "Edificio Libertador",
            "phone": random_phone(),
            "addresses": [
                {"street": "Av. Maipú 1500", "zone": "zona norte", "isDefault": True},
                {"street": "Av. Mitre 800", "zone": "Zona Sur"},
                {"street": "Ruta 8 km 50"},
            ],
        },
    )
    return {"service": service, "material": material, "customer": customer}


async def _job(
    client: httpx.AsyncClient, who: Session, book: dict[str, Any], address: int | None, **fields: Any
) -> httpx.Response:
    body: dict[str, Any] = {
        "customerId": book["customer"]["id"],
        "title": "Caldera",
        "lines": [
            {"pricebookItemId": book["service"]["id"]},
            {"pricebookItemId": book["material"]["id"], "quantity": "2"},
        ],
    } | fields
    if address is not None:
        body["addressId"] = book["customer"]["addresses"][address]["id"]
    return await client.post(API, headers=who.headers, json=body)


def _prices(job: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(line["unitPrice"], line["priceSource"], line["priceZone"]) for line in job["lines"]]


@pytest.mark.parametrize(
    ("address", "complexity", "expected"),
    [
        # zone × complexity: the service moves with both, the material only with the zone
        (0, "normal", [("12000.00", "zone_multiplier", "Zona Norte"), ("600.00", "zone_multiplier", "Zona Norte")]),
        (0, "urgente", [("18000.00", "zone_multiplier", "Zona Norte"), ("600.00", "zone_multiplier", "Zona Norte")]),
        (1, "normal", [("9000.00", "zone_override", "Zona Sur"), ("500.00", "zone_multiplier", "Zona Sur")]),
        (1, "dificil", [("11250.00", "zone_override", "Zona Sur"), ("500.00", "zone_multiplier", "Zona Sur")]),
        # an address without a zone: the base price; no address on the job: the customer's default address
        (2, "urgente", [("15000.00", "base", None), ("500.00", "base", None)]),
        (None, "dificil", [("15000.00", "zone_multiplier", "Zona Norte"), ("600.00", "zone_multiplier", "Zona Norte")]),
    ],
)
async def test_same_items_priced_by_zone_and_complexity(
    client: httpx.AsyncClient,
    team: Team,
    book: dict[str, Any],
    address: int | None,
    complexity: str,
    expected: list[tuple[str, str, str | None]],
) -> None:
    response = await _job(client, team.dispatcher, book, address, complexity=complexity)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["complexity"] == complexity
    assert _prices(job) == expected
    service, material = job["lines"]
    assert service["priceComplexity"] == complexity and service["description"] == "Service de caldera"
    assert service["priceBreakdown"][-1]["result"] == expected[0][0]  # the steps end at the price charged
    assert material["description"] == "Válvula" and Decimal(material["ivaRate"]) == Decimal("10.5")
    assert Decimal(job["netAmount"]) == Decimal(expected[0][0]) + 2 * Decimal(expected[1][0])


async def test_org_multipliers_and_repricing_when_the_complexity_changes(
    client: httpx.AsyncClient, team: Team, book: dict[str, Any], admin_conn: asyncpg.Connection
) -> None:
    custom = await client.put("/api/v1/pricebook/complexity", headers=team.owner.headers, json={"dificil": "1.4"})
    assert custom.status_code == 200, custom.text
    job = (await _job(client, team.dispatcher, book, 0, complexity="dificil")).json()
    assert _prices(job)[0] == ("16800.00", "zone_multiplier", "Zona Norte")  # 10000 × 1.2 × 1.4
    # a line typed in by hand keeps its price when the job turns urgent; the price book lines follow
    manual = await client.patch(
        f"{API}/{job['id']}",
        headers=team.owner.headers,
        json={
            "lines": [
                {"pricebookItemId": book["service"]["id"]},
                {"pricebookItemId": book["material"]["id"], "unitPrice": "450.00", "quantity": "2"},
                {"description": "Viático", "unitPrice": "3000"},
            ]
        },
    )
    assert manual.status_code == 200, manual.text
    assert [(p, s) for p, s, _ in _prices(manual.json())] == [
        ("16800.00", "zone_multiplier"),
        ("450.00", "manual"),
        ("3000.00", "manual"),
    ]
    urgent = await client.patch(f"{API}/{job['id']}", headers=team.dispatcher.headers, json={"complexity": "urgente"})
    assert urgent.status_code == 200, urgent.text
    assert urgent.json()["complexity"] == "urgente"
    assert [p for p, _, _ in _prices(urgent.json())] == ["18000.00", "450.00", "3000.00"]
    after = await admin_conn.fetchval(
        "SELECT after FROM audit_log WHERE entity_id = $1 AND action = 'job.updated' ORDER BY seq DESC LIMIT 1",
        uuid.UUID(job["id"]),
    )
    assert '"complexity": "urgente"' in after and '"unitPrice": "18000.00"' in after


async def test_explicit_price_on_a_price_book_line_is_for_owner_and_admin(
    client: httpx.AsyncClient, team: Team, book: dict[str, Any]
) -> None:
    lines = [{"pricebookItemId": book["service"]["id"], "unitPrice": "8000"}]
    refused = await _job(client, team.dispatcher, book, 0, lines=lines)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert refused.json()["details"] == {"key": "lines[0].unitPrice", "listUnitPrice": "12000.00"}
    assert "lista" in refused.json()["message"]
    # the list's own price, sent back by a client, is fine
    echoed = await _job(
        client, team.dispatcher, book, 0, lines=[{"pricebookItemId": book["service"]["id"], "unitPrice": "12000.00"}]
    )
    assert echoed.status_code == 201 and _prices(echoed.json()) == [("12000.00", "zone_multiplier", "Zona Norte")]
    overridden = await _job(client, team.owner, book, 0, lines=lines)
    assert overridden.status_code == 201, overridden.text
    line = overridden.json()["lines"][0]
    assert (line["unitPrice"], line["priceSource"], line["priceBreakdown"]) == ("8000.00", "manual", [])
    assert (line["listUnitPrice"], line["priceZone"]) == ("12000.00", None)
    assert echoed.json()["lines"][0]["listUnitPrice"] is None
    # free-text lines carry their own price, whoever writes them
    free = await _job(client, team.dispatcher, book, 0, lines=[{"description": "Flete", "unitPrice": "2500"}])
    assert free.status_code == 201 and _prices(free.json()) == [("2500.00", "manual", None)]


async def test_office_edit_sending_the_lines_back_keeps_an_admins_price(
    client: httpx.AsyncClient, team: Team, book: dict[str, Any]
) -> None:
    special = [{"pricebookItemId": book["service"]["id"], "unitPrice": "8000.00"}]
    job = (await _job(client, team.owner, book, 0, lines=special)).json()
    edited = await client.patch(
        f"{API}/{job['id']}",
        headers=team.dispatcher.headers,
        json={"lines": [*special, {"pricebookItemId": book["material"]["id"]}]},
    )
    assert edited.status_code == 200, edited.text
    assert [(p, s) for p, s, _ in _prices(edited.json())] == [("8000.00", "manual"), ("600.00", "zone_multiplier")]
    lowered = await client.patch(
        f"{API}/{job['id']}",
        headers=team.dispatcher.headers,
        json={"lines": [{"pricebookItemId": book["service"]["id"], "unitPrice": "7000.00"}]},
    )
    assert lowered.status_code == 403 and lowered.json()["code"] == "permission_denied"
    unchanged = (await client.get(f"{API}/{job['id']}", headers=team.owner.headers)).json()
    assert [p for p, _, _ in _prices(unchanged)] == ["8000.00", "600.00"]
