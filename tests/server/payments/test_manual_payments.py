"""Manual payments (cash, transfer, cheque): partial and full payment of an invoice, refunds recorded by
hand and never above what was paid, disputes, who may do it, and organisations kept apart."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from server.runtime import Resources
from tests.server.payments.conftest import API, audit_actions, issued_invoice, make_org, ok


async def test_partial_then_full_payment_marks_the_invoice_paid(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org(pay, resources)
    invoice = await issued_invoice(pay, org, admin_conn)
    total = invoice["totalAmount"]
    assert invoice["status"] == "issued" and invoice["paidAmount"] == "0.00"

    first = await ok(
        await pay.post(
            f"{API}/payments",
            headers=org.headers,
            json={"method": "cash", "amount": "40000.00", "invoiceId": invoice["id"]},
        ),
        201,
    )
    assert first["status"] == "approved" and first["method"] == "cash"
    after_first = await ok(await pay.get(f"{API}/invoices/{invoice['id']}", headers=org.headers))
    assert after_first["status"] == "issued"  # partially paid is a figure, not a status
    assert after_first["paidAmount"] == "40000.00"

    rest = f"{float(total) - 40000:.2f}"
    too_much = await pay.post(
        f"{API}/payments",
        headers=org.headers,
        json={
            "method": "bank_transfer",
            "amount": f"{float(rest) + 1:.2f}",
            "invoiceId": invoice["id"],
            "reference": "OP 998877",
        },
    )
    assert too_much.status_code == 422
    assert too_much.json()["code"] == "payment_exceeds_balance"
    assert "saldo" in too_much.json()["message"]

    await ok(
        await pay.post(
            f"{API}/payments",
            headers=org.headers,
            json={"method": "bank_transfer", "amount": rest, "invoiceId": invoice["id"], "reference": "OP 998877"},
        ),
        201,
    )
    paid = await ok(await pay.get(f"{API}/invoices/{invoice['id']}", headers=org.headers))
    assert paid["status"] == "paid"
    assert paid["paidAmount"] == total and paid["balance"] == "0.00"
    assert "invoice.paid" in await audit_actions(admin_conn, invoice["id"])

    listed = await ok(await pay.get(f"{API}/payments", headers=org.headers, params={"invoiceId": invoice["id"]}))
    assert listed["total"] == 2
    assert {p["method"] for p in listed["items"]} == {"cash", "bank_transfer"}


async def test_transfer_and_cheque_need_a_reference_and_amounts_must_be_positive(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org(pay, resources)
    invoice = await issued_invoice(pay, org, admin_conn)
    for method in ("bank_transfer", "cheque"):
        answer = await pay.post(
            f"{API}/payments",
            headers=org.headers,
            json={"method": method, "amount": "100.00", "invoiceId": invoice["id"]},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "payment_reference_required"
    for amount in ("0", "-5", "10.001"):
        answer = await pay.post(
            f"{API}/payments",
            headers=org.headers,
            json={"method": "cash", "amount": amount, "invoiceId": invoice["id"]},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "payment_amount_invalid"
    missing = await pay.post(
        f"{API}/payments", headers=org.headers, json={"method": "cash", "amount": "10", "invoiceId": str(uuid.uuid4())}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "invoice_not_found"


async def test_a_refund_above_what_was_paid_is_refused_and_a_full_refund_reopens_the_invoice(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org(pay, resources)
    invoice = await issued_invoice(
        pay,
        org,
        admin_conn,
        lines=[{"description": "Service", "quantity": "1", "unitPrice": "1000.00", "ivaRate": "0"}],
    )
    payment = await ok(
        await pay.post(
            f"{API}/payments",
            headers=org.headers,
            json={"method": "cash", "amount": invoice["totalAmount"], "invoiceId": invoice["id"]},
        ),
        201,
    )
    assert (await ok(await pay.get(f"{API}/invoices/{invoice['id']}", headers=org.headers)))["status"] == "paid"

    partial = await ok(
        await pay.post(f"{API}/payments/{payment['id']}/refunds", headers=org.headers, json={"amount": "300.00"}), 201
    )
    assert partial["status"] == "partially_refunded"
    assert partial["refundedAmount"] == "300.00" and partial["refundableAmount"] == "700.00"
    reopened = await ok(await pay.get(f"{API}/invoices/{invoice['id']}", headers=org.headers))
    assert reopened["status"] == "sent" and reopened["paidAmount"] == "700.00"

    over = await pay.post(f"{API}/payments/{payment['id']}/refunds", headers=org.headers, json={"amount": "700.01"})
    assert over.status_code == 422
    assert over.json()["code"] == "refund_exceeds_paid"
    assert over.json()["details"]["refundable"] == "700.00"

    rest = await ok(await pay.post(f"{API}/payments/{payment['id']}/refunds", headers=org.headers, json={}), 201)
    assert rest["status"] == "refunded" and rest["refundedAmount"] == "1000.00"
    assert [r["amount"] for r in rest["refunds"]] == ["300.00", "700.00"]
    again = await pay.post(f"{API}/payments/{payment['id']}/refunds", headers=org.headers, json={"amount": "1"})
    assert again.status_code == 409 and again.json()["code"] == "refund_not_allowed"
    final = await ok(await pay.get(f"{API}/invoices/{invoice['id']}", headers=org.headers))
    assert final["paidAmount"] == "0.00"


async def test_a_dispute_on_a_manual_payment_lost_takes_the_money_back(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org(pay, resources)
    invoice = await issued_invoice(
        pay, org, admin_conn, lines=[{"description": "Service", "quantity": "1", "unitPrice": "500.00", "ivaRate": "0"}]
    )
    payment = await ok(
        await pay.post(
            f"{API}/payments",
            headers=org.headers,
            json={"method": "cheque", "amount": "500.00", "invoiceId": invoice["id"], "reference": "Cheque 0042"},
        ),
        201,
    )
    dispute = await ok(
        await pay.post(
            f"{API}/payments/{payment['id']}/disputes",
            headers=org.headers,
            json={"evidenceNotes": "El banco rechazó el cheque por firma"},
        ),
        201,
    )
    assert dispute["status"] == "open" and dispute["amount"] == "500.00"
    in_mediation = await ok(await pay.get(f"{API}/payments/{payment['id']}", headers=org.headers))
    assert in_mediation["status"] == "in_mediation"

    sent = await ok(
        await pay.patch(
            f"{API}/payments/disputes/{dispute['id']}",
            headers=org.headers,
            json={"status": "documentation_sent", "evidenceNotes": "Enviamos la constancia de entrega"},
        )
    )
    assert sent["status"] == "documentation_sent" and sent["evidenceNotes"] == "Enviamos la constancia de entrega"
    lost = await ok(
        await pay.patch(f"{API}/payments/disputes/{dispute['id']}", headers=org.headers, json={"status": "lost"})
    )
    assert lost["status"] == "lost" and lost["resolvedAt"]
    back = await pay.patch(f"{API}/payments/disputes/{dispute['id']}", headers=org.headers, json={"status": "won"})
    assert back.status_code == 409 and back.json()["code"] == "dispute_transition_not_allowed"
    assert (await ok(await pay.get(f"{API}/payments/{payment['id']}", headers=org.headers)))["status"] == "charged_back"
    after = await ok(await pay.get(f"{API}/invoices/{invoice['id']}", headers=org.headers))
    assert after["paidAmount"] == "0.00" and after["status"] == "sent"


async def test_who_may_record_payments(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    org = await make_org(pay, resources)
    invoice = await issued_invoice(pay, org, admin_conn)
    body = {"method": "cash", "amount": "100.00", "invoiceId": invoice["id"]}
    accountant = await org.member(pay, "accountant")
    admin = await org.member(pay, "admin")
    for session in (accountant, admin):
        await ok(await pay.post(f"{API}/payments", headers=session.headers, json=body), 201)
    for role in ("technician", "dispatcher"):
        member = await org.member(pay, role)
        refused = await pay.post(f"{API}/payments", headers=member.headers, json=body)
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "permission_denied"
    technician = await org.member(pay, "technician")
    assert (await pay.get(f"{API}/payments", headers=technician.headers)).status_code == 403
    # only owner and admin connect Mercado Pago (an accountant records payments but not integrations)
    assert (await pay.get(f"{API}/payments/mercadopago/connect", headers=accountant.headers)).status_code == 403
    assert (await pay.post(f"{API}/payments", json=body)).status_code == 401


async def test_organisations_never_see_each_others_payments(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> None:
    first = await make_org(pay, resources, "Primera SRL")
    second = await make_org(pay, resources, "Segunda SRL")
    invoice = await issued_invoice(pay, first, admin_conn)
    payment = await ok(
        await pay.post(
            f"{API}/payments",
            headers=first.headers,
            json={"method": "cash", "amount": "10.00", "invoiceId": invoice["id"]},
        ),
        201,
    )
    assert (await pay.get(f"{API}/payments/{payment['id']}", headers=second.headers)).status_code == 404
    assert (await ok(await pay.get(f"{API}/payments", headers=second.headers)))["total"] == 0
    # another organisation's invoice is as missing as one that does not exist
    foreign = await pay.post(
        f"{API}/payments",
        headers=second.headers,
        json={"method": "cash", "amount": "10.00", "invoiceId": invoice["id"]},
    )
    assert foreign.status_code == 404 and foreign.json()["code"] == "invoice_not_found"
    refund = await pay.post(f"{API}/payments/{payment['id']}/refunds", headers=second.headers, json={})
    assert refund.status_code == 404 and refund.json()["code"] == "payment_not_found"
