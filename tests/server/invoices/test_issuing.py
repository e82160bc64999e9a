"""Issuing with AFIP through the afip queue, the real zeep clients and the AFIP sandbox over HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from server.domain.invoices import issuing
from server.runtime import Resources
from server.sandbox.afip.app import RunningAfipSandbox
from shared.capabilities import Capability
from shared.fiscal.qr import decode_qr_url
from tests.server.invoices.conftest import API, issued, make_afip_org, make_customer, make_draft, ok, until

pytestmark = pytest.mark.asyncio

RI_CUSTOMER = {"docType": "cuit", "docNumber": "30712345671", "ivaCondition": "responsable_inscripto"}


def _qr_of_first_page(pdf: bytes) -> str:
    """What a phone reads off the printed page: render it (pdftoppm) and scan the QR (zbarimg)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "f.pdf")
        path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", str(path), str(Path(folder, "p"))], check=True
        )
        [png] = sorted(Path(folder).glob("p*.png"))
        scan = subprocess.run(["zbarimg", "--raw", "-q", str(png)], check=True, capture_output=True, text=True)
        return scan.stdout.strip()


async def _request_cae(client: httpx.AsyncClient, headers: dict[str, str], invoice_id: str) -> dict:
    return await ok(await client.post(f"{API}/invoices/{invoice_id}/cae", headers=headers), 202)


async def test_factura_a_to_a_responsable_inscripto_gets_its_cae_and_pdf(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    draft = await make_draft(afip_client, org, customer["id"])
    pending = await _request_cae(afip_client, org.headers, draft["id"])
    assert pending["status"] == "pending_cae"
    assert pending["letter"] == "A" and pending["receiptType"] == 1
    assert pending["docType"] == 80 and pending["docNumber"] == "30712345671"
    assert pending["receiverIvaConditionId"] == 1
    assert pending["concept"] == 2  # free lines are labour: servicios, with service dates
    invoice = await issued(afip_client, org, draft["id"])
    assert invoice["status"] == "issued", invoice["afipMessages"]
    assert len(invoice["cae"]) == 14 and invoice["caeDueDate"]
    assert invoice["displayNumber"] == f"0001-{invoice['number']:08d}"
    # AFIP holds exactly what we show
    [receipt] = [r for r in afip.sandbox.wsfe.receipts(cuit=org.cuit) if r.number == invoice["number"]]
    assert receipt.cae == invoice["cae"]
    assert Decimal(receipt.detail["ImpTotal"]) == Decimal(invoice["totalAmount"])
    # the PDF: A4, the QR decodes to AFIP's RG 4291 data of this very invoice
    pdf = await afip_client.get(f"{API}/invoices/{draft['id']}/pdf", headers=org.headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    url = await asyncio.to_thread(_qr_of_first_page, pdf.content)
    data = decode_qr_url(url)
    assert data["cuit"] == int(org.cuit) and data["ptoVta"] == 1 and data["tipoCmp"] == 1
    assert data["nroCmp"] == invoice["number"] and data["codAut"] == int(invoice["cae"])
    assert Decimal(str(data["importe"])) == Decimal(invoice["totalAmount"])
    # the fiscal fields are locked now: a draft edit is refused, the audit trail has every step
    refused = await afip_client.patch(f"{API}/invoices/{draft['id']}", headers=org.headers, json={"paymentDue": None})
    assert refused.status_code == 409 and refused.json()["code"] == "invoice_not_draft"
    audit = await ok(
        await afip_client.get(
            f"{API}/audit", headers=org.headers, params={"entityType": "invoice", "entityId": draft["id"]}
        )
    )
    actions = {entry["action"] for entry in audit["items"]}
    assert {"invoice.created", "invoice.cae_requested", "invoice.issued"} <= actions


async def test_factura_b_to_a_consumidor_final_and_c_from_a_monotributista(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    ri = await make_afip_org(afip_client, resources, afip)
    walk_in = await make_customer(afip_client, ri)  # no document: consumidor final
    b = await make_draft(afip_client, ri, walk_in["id"])
    await _request_cae(afip_client, ri.headers, b["id"])
    invoice_b = await issued(afip_client, ri, b["id"])
    assert invoice_b["status"] == "issued", invoice_b["afipMessages"]
    assert (invoice_b["letter"], invoice_b["receiptType"], invoice_b["docType"]) == ("B", 6, 99)

    mono = await make_afip_org(afip_client, resources, afip, iva_condition="monotributista", point_of_sale=3)
    customer = await make_customer(afip_client, mono, **RI_CUSTOMER)
    c = await make_draft(afip_client, mono, customer["id"])
    await _request_cae(afip_client, mono.headers, c["id"])
    invoice_c = await issued(afip_client, mono, c["id"])
    assert invoice_c["status"] == "issued", invoice_c["afipMessages"]
    assert (invoice_c["letter"], invoice_c["receiptType"], invoice_c["pointOfSale"]) == ("C", 11, 3)
    assert invoice_c["vat"] == [] and Decimal(invoice_c["ivaAmount"]) == 0
    [receipt] = [r for r in afip.sandbox.wsfe.receipts(cuit=mono.cuit) if r.number == invoice_c["number"]]
    assert Decimal(receipt.detail["ImpNeto"]) == Decimal(invoice_c["totalAmount"])


async def test_a_credit_note_points_at_its_invoice(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    draft = await make_draft(afip_client, org, customer["id"])
    await _request_cae(afip_client, org.headers, draft["id"])
    invoice = await issued(afip_client, org, draft["id"])
    note = await ok(
        await afip_client.post(
            f"{API}/invoices",
            headers=org.headers,
            json={
                "customerId": customer["id"],
                "kind": "credit_note",
                "associatedInvoiceId": invoice["id"],
                "lines": [{"description": "Bonificación por demora", "unitPrice": "5000.00"}],
            },
        ),
        201,
    )
    await _request_cae(afip_client, org.headers, note["id"])
    credit = await issued(afip_client, org, note["id"])
    assert credit["status"] == "issued", credit["afipMessages"]
    assert (credit["letter"], credit["receiptType"]) == ("A", 3)
    [receipt] = [r for r in afip.sandbox.wsfe.receipts(cuit=org.cuit, cbte_tipo=3) if r.number == credit["number"]]
    [associated] = receipt.detail["CbtesAsoc"]
    assert (int(associated["Tipo"]), int(associated["PtoVta"]), int(associated["Nro"])) == (1, 1, invoice["number"])


async def test_afip_rejection_goes_back_to_draft_with_the_reasons(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    draft = await make_draft(afip_client, org, customer["id"])
    afip.sandbox.wsfe.faults.afip_error_next(code=10242, message="El campo CondicionIVAReceptorId no es valido")
    await _request_cae(afip_client, org.headers, draft["id"])
    back = await issued(afip_client, org, draft["id"])
    assert back["status"] == "draft" and back["cae"] is None and back["number"] is None
    assert [m["code"] for m in back["afipMessages"]] == [10242]
    status = await ok(await afip_client.get(f"{API}/invoices/afip-status", headers=org.headers))
    assert status["rejectedDrafts"] == 1 and status["pending"] == 0
    # a person fixes it and asks again: issued, the reasons gone
    await _request_cae(afip_client, org.headers, draft["id"])
    again = await issued(afip_client, org, draft["id"])
    assert again["status"] == "issued" and again["afipMessages"] == []


async def test_a_5xx_is_retried_and_issued_once(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    draft = await make_draft(afip_client, org, customer["id"])
    afip.sandbox.wsfe.faults.http_error_next(count=2, status=503, operation="FECAESolicitar")
    await _request_cae(afip_client, org.headers, draft["id"])
    invoice = await issued(afip_client, org, draft["id"], seconds=40)
    assert invoice["status"] == "issued"
    assert [r.number for r in afip.sandbox.wsfe.receipts(cuit=org.cuit)] == [invoice["number"]]


async def test_timeout_after_afip_issued_is_recovered_with_fecompconsultar_not_sent_twice(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    draft = await make_draft(afip_client, org, customer["id"])
    calls_before = afip.sandbox.wsfe.calls.get("FECAESolicitar", 0)
    # AFIP stores the CAE, then the connection drops before we read the answer
    afip.sandbox.wsfe.faults.timeout_next(operation="FECAESolicitar", mode="close")
    await _request_cae(afip_client, org.headers, draft["id"])
    invoice = await issued(afip_client, org, draft["id"], seconds=40)
    assert invoice["status"] == "issued"
    receipts = afip.sandbox.wsfe.receipts(cuit=org.cuit)
    assert len(receipts) == 1 and receipts[0].cae == invoice["cae"]
    assert afip.sandbox.wsfe.calls.get("FECAESolicitar", 0) - calls_before == 1  # asked, never resent
    audit = await ok(
        await afip_client.get(
            f"{API}/audit", headers=org.headers, params={"entityType": "invoice", "entityId": draft["id"]}
        )
    )
    [issued_entry] = [e for e in audit["items"] if e["action"] == "invoice.issued"]
    assert issued_entry["after"]["recoveredWithQuery"] is True


async def test_200_concurrent_requests_get_200_consecutive_numbers(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    drafts = [await make_draft(afip_client, org, customer["id"]) for _ in range(200)]
    await asyncio.gather(*(_request_cae(afip_client, org.headers, d["id"]) for d in drafts))

    async def all_issued() -> list[dict] | None:
        page = await ok(
            await afip_client.get(f"{API}/invoices", headers=org.headers, params={"status": "issued", "limit": 200})
        )
        return page["items"] if page["total"] == 200 else None

    items = await until(all_issued, seconds=120)
    numbers = sorted(int(item["displayNumber"].split("-")[1]) for item in items)
    assert numbers == list(range(1, 201))
    afip_numbers = [r.number for r in afip.sandbox.wsfe.receipts(cuit=org.cuit, pto_vta=1, cbte_tipo=1)]
    assert afip_numbers == list(range(1, 201))


async def test_while_afip_is_switched_off_invoices_wait_and_the_office_is_told(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issuing, "WAIT_WHILE_DISABLED_SECONDS", 0.5)
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    draft = await make_draft(afip_client, org, customer["id"])
    await resources.capabilities.set_system(resources.sessionmaker, Capability.AFIP, False, "Mantenimiento de AFIP")
    try:
        await _request_cae(afip_client, org.headers, draft["id"])
        await asyncio.sleep(1.5)
        waiting = await ok(await afip_client.get(f"{API}/invoices/{draft['id']}", headers=org.headers))
        assert waiting["status"] == "pending_cae"
        status = await ok(await afip_client.get(f"{API}/invoices/afip-status", headers=org.headers))
        assert status["afipEnabled"] is False and status["pending"] == 1
        assert "Mantenimiento de AFIP" in status["message"] and "en espera" in status["message"]
        assert afip.sandbox.wsfe.receipts(cuit=org.cuit) == []
    finally:
        await resources.capabilities.set_system(resources.sessionmaker, Capability.AFIP, True, None)
    invoice = await issued(afip_client, org, draft["id"])
    assert invoice["status"] == "issued"


async def test_without_a_certificate_the_invoice_comes_back_saying_so(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    from tests.server.auth.conftest import sign_up

    owner = await sign_up(afip_client, resources)
    await ok(
        await afip_client.patch(
            f"{API}/organization",
            headers=owner.headers,
            json={"ivaCondition": "monotributista", "defaultPointOfSale": 2},
        )
    )
    customer = await ok(
        await afip_client.post(
            f"{API}/customers", headers=owner.headers, json={"name": "Pedro", "phone": "+5491155443322"}
        ),
        201,
    )
    draft = await ok(
        await afip_client.post(
            f"{API}/invoices",
            headers=owner.headers,
            json={"customerId": customer["id"], "lines": [{"description": "Visita", "unitPrice": "9000"}]},
        ),
        201,
    )
    await ok(await afip_client.post(f"{API}/invoices/{draft['id']}/cae", headers=owner.headers), 202)

    async def back() -> dict | None:
        body = await ok(await afip_client.get(f"{API}/invoices/{draft['id']}", headers=owner.headers))
        return body if body["status"] == "draft" else None

    invoice = await until(back)
    [message] = invoice["afipMessages"]
    assert "certificado" in message["message"].lower()


async def test_pdf_of_a_draft_is_409(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org)
    draft = await make_draft(afip_client, org, customer["id"])
    response = await afip_client.get(f"{API}/invoices/{draft['id']}/pdf", headers=org.headers)
    assert response.status_code == 409 and response.json()["code"] == "invoice_not_issued"


async def test_afip_numbering_behind_ours_comes_back_to_a_person_not_a_retry_loop(
    afip_client: httpx.AsyncClient, resources: Resources, afip: RunningAfipSandbox
) -> None:
    org = await make_afip_org(afip_client, resources, afip)
    customer = await make_customer(afip_client, org, **RI_CUSTOMER)
    first = await make_draft(afip_client, org, customer["id"])
    await _request_cae(afip_client, org.headers, first["id"])
    assert (await issued(afip_client, org, first["id"]))["number"] == 1
    afip.sandbox.wsfe.reset()  # AFIP forgets: its last number (0) is now behind ours (1)
    second = await make_draft(afip_client, org, customer["id"])
    await _request_cae(afip_client, org.headers, second["id"])
    back = await issued(afip_client, org, second["id"])
    assert back["status"] == "draft" and back["number"] is None
    [message] = back["afipMessages"]
    assert "ambiente de AFIP" in message["message"]
    assert afip.sandbox.wsfe.receipts(cuit=org.cuit) == []  # nothing was sent with a number we already used
