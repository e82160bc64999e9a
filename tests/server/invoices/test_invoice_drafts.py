"""Draft invoices through the API: by hand, edits, totals, validation, filters, isolation, CAE request checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, random_phone, sign_up

pytestmark = pytest.mark.asyncio


async def _customer(client: httpx.AsyncClient, owner: Session, **extra: Any) -> dict[str, Any]:
    body = {"name": "Lucía Fernández", "phone": random_phone(), **extra}
    response = await client.post("/api/v1/customers", headers=owner.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _item(client: httpx.AsyncClient, owner: Session, code: str, kind: str, price: str, iva: str = "21") -> dict:
    response = await client.post(
        "/api/v1/pricebook/items",
        headers=owner.headers,
        json={"code": code, "kind": kind, "name": f"Ítem {code}", "basePrice": price, "ivaRate": iva},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _draft(client: httpx.AsyncClient, owner: Session, customer_id: str, lines: list[dict], **extra: Any):
    return await client.post(
        "/api/v1/invoices", headers=owner.headers, json={"customerId": customer_id, "lines": lines, **extra}
    )


async def test_a_draft_by_hand_adds_up_per_rate(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    customer = await _customer(client, owner)
    item = await _item(client, owner, "MAT-CAÑO", "material", "1000.00", "10.5")
    response = await _draft(
        client,
        owner,
        customer["id"],
        [
            {"description": "Mano de obra destapación", "quantity": "1", "unitPrice": "15000.00"},
            {"pricebookItemId": item["id"], "quantity": "3"},
            {"description": "Visita", "quantity": "0.333", "unitPrice": "100.00", "discount": "3.30"},
        ],
    )
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert invoice["status"] == "draft"
    assert invoice["kind"] == "invoice"
    assert invoice["customerName"] == "Lucía Fernández"
    assert invoice["lines"][1]["description"] == "Ítem MAT-CAÑO"
    assert Decimal(invoice["lines"][1]["unitPrice"]) == Decimal("1000.00")
    assert Decimal(invoice["lines"][1]["ivaRate"]) == Decimal("10.5")
    # per-rate bases add up to the net, the IVA amounts to the IVA, everything to the total
    vat = invoice["vat"]
    assert {Decimal(v["rate"]) for v in vat} == {Decimal("21"), Decimal("10.5")}
    assert sum(Decimal(v["base"]) for v in vat) == Decimal(invoice["netAmount"])
    assert sum(Decimal(v["amount"]) for v in vat) == Decimal(invoice["ivaAmount"])
    assert Decimal(invoice["netAmount"]) + Decimal(invoice["ivaAmount"]) == Decimal(invoice["totalAmount"])
    assert Decimal(invoice["netAmount"]) == Decimal("15000.00") + Decimal("3000.00") + Decimal("30.00")
    assert Decimal(invoice["balance"]) == Decimal(invoice["totalAmount"])
    assert invoice["cae"] is None and invoice["number"] is None and invoice["pdfUrl"] is None

    read = await client.get(f"/api/v1/invoices/{invoice['id']}", headers=owner.headers)
    assert read.status_code == 200
    assert read.json()["totalAmount"] == invoice["totalAmount"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"description": "x", "quantity": "0", "unitPrice": "10"}, "quantity"),
        ({"description": "x", "quantity": "1.2345", "unitPrice": "10"}, "quantity"),
        ({"description": "x", "quantity": "1", "unitPrice": "-1"}, "unitPrice"),
        ({"description": "x", "quantity": "1", "unitPrice": "10.001"}, "unitPrice"),
        ({"description": "x", "quantity": "1", "unitPrice": "10", "discount": "11"}, "discount"),
        ({"description": "x", "quantity": "1", "unitPrice": "10", "ivaRate": "19"}, "ivaRate"),
        ({"quantity": "1", "unitPrice": "10"}, "description"),
        ({"description": "x", "quantity": "1"}, "unitPrice"),
    ],
)
async def test_bad_lines_are_422_naming_the_line(
    client: httpx.AsyncClient, resources: Resources, line: dict, problem: str
) -> None:
    owner = await sign_up(client, resources)
    customer = await _customer(client, owner)
    good = {"description": "ok", "quantity": "1", "unitPrice": "10"}
    response = await _draft(client, owner, customer["id"], [good, line])
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invoice_line_invalid"
    assert body["details"] == {"key": "lines[1]", "problem": problem}
    listed = await client.get("/api/v1/invoices", headers=owner.headers)
    assert listed.json()["total"] == 0  # nothing half-written


async def test_unknown_or_foreign_references_are_refused(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    other = await sign_up(client, resources, name="Otra SRL")
    foreign_customer = await _customer(client, other)
    line = {"description": "Visita", "quantity": "1", "unitPrice": "100"}
    response = await _draft(client, owner, foreign_customer["id"], [line])
    assert response.status_code == 422
    assert response.json()["details"] == {"key": "customerId"}
    foreign_item = await _item(client, other, "X1", "service", "10")
    mine = await _customer(client, owner)
    response = await _draft(client, owner, mine["id"], [{"pricebookItemId": foreign_item["id"]}])
    assert response.status_code == 422
    assert response.json()["details"] == {"key": "lines[0].pricebookItemId"}


async def test_other_orgs_invoices_are_404_and_not_listed(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    other = await sign_up(client, resources, name="Otra SRL")
    customer = await _customer(client, owner)
    created = (await _draft(client, owner, customer["id"], [{"description": "a", "unitPrice": "5"}])).json()
    assert (await client.get(f"/api/v1/invoices/{created['id']}", headers=other.headers)).status_code == 404
    patch = await client.patch(
        f"/api/v1/invoices/{created['id']}", headers=other.headers, json={"paymentDue": "2026-12-01"}
    )
    assert patch.status_code == 404
    assert (await client.post(f"/api/v1/invoices/{created['id']}/cae", headers=other.headers)).status_code == 404
    assert (await client.get("/api/v1/invoices", headers=other.headers)).json()["total"] == 0


async def test_editing_a_draft_replaces_lines_and_is_audited(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    customer = await _customer(client, owner)
    created = (await _draft(client, owner, customer["id"], [{"description": "a", "unitPrice": "100"}])).json()
    response = await client.patch(
        f"/api/v1/invoices/{created['id']}",
        headers=owner.headers,
        json={"lines": [{"description": "b", "quantity": "2", "unitPrice": "50", "ivaRate": "10.5"}]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [line["description"] for line in body["lines"]] == ["b"]
    assert Decimal(body["ivaAmount"]) == Decimal("10.50")
    audit = await client.get(
        "/api/v1/audit", headers=owner.headers, params={"entityType": "invoice", "entityId": created["id"]}
    )
    assert audit.status_code == 200, audit.text
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert "invoice.created" in actions and "invoice.updated" in actions


async def test_technicians_cannot_see_or_make_invoices(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    tech = await add_member(client, resources, owner, "technician")
    customer = await _customer(client, owner)
    assert (await client.get("/api/v1/invoices", headers=tech.headers)).status_code == 403
    response = await _draft(client, tech, customer["id"], [{"description": "a", "unitPrice": "5"}])
    assert response.status_code == 403


async def test_filters_by_status_customer_and_date(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    first = await _customer(client, owner)
    second = await _customer(client, owner, name="Jorge Paz")
    for customer in (first, first, second):
        assert (
            await _draft(client, owner, customer["id"], [{"description": "a", "unitPrice": "5"}])
        ).status_code == 201
    by_customer = await client.get("/api/v1/invoices", headers=owner.headers, params={"customerId": first["id"]})
    assert by_customer.json()["total"] == 2
    assert {i["customerName"] for i in by_customer.json()["items"]} == {"Lucía Fernández"}
    drafts = await client.get("/api/v1/invoices", headers=owner.headers, params={"status": "draft", "limit": 2})
    assert drafts.json()["total"] == 3 and len(drafts.json()["items"]) == 2
    none_issued = await client.get("/api/v1/invoices", headers=owner.headers, params={"status": "issued"})
    assert none_issued.json()["total"] == 0
    future = await client.get("/api/v1/invoices", headers=owner.headers, params={"from": "2099-01-01"})
    assert future.json()["total"] == 0
    bad = await client.get("/api/v1/invoices", headers=owner.headers, params={"status": "lost"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"


async def test_a_note_needs_an_issued_invoice_of_the_same_customer(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    owner = await sign_up(client, resources)
    customer = await _customer(client, owner)
    draft = (await _draft(client, owner, customer["id"], [{"description": "a", "unitPrice": "5"}])).json()
    line = [{"description": "Devolución", "unitPrice": "5"}]
    missing = await _draft(client, owner, customer["id"], line, kind="credit_note")
    assert missing.status_code == 422 and missing.json()["code"] == "invoice_association_invalid"
    not_issued = await _draft(client, owner, customer["id"], line, kind="credit_note", associatedInvoiceId=draft["id"])
    assert not_issued.status_code == 422 and not_issued.json()["details"] == {"key": "associatedInvoiceId"}


async def test_cae_request_names_what_is_missing(client: httpx.AsyncClient, resources: Resources) -> None:
    owner = await sign_up(client, resources)
    customer = await _customer(client, owner)
    draft = (await _draft(client, owner, customer["id"], [{"description": "a", "unitPrice": "5"}])).json()
    response = await client.post(f"/api/v1/invoices/{draft['id']}/cae", headers=owner.headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invoice_not_ready"
    assert set(body["details"]["missing"]) == {"organization.ivaCondition", "pointOfSale"}
    still = await client.get(f"/api/v1/invoices/{draft['id']}", headers=owner.headers)
    assert still.json()["status"] == "draft"
