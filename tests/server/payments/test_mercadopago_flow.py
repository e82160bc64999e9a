"""Mercado Pago over real HTTP against the sandbox: connect (OAuth), a link for an issued invoice, paying it
in the sandbox → signed webhook → invoice paid; duplicates and reordered deliveries change state once;
bad and stale signatures are refused and logged without secrets; refunds through Mercado Pago; a
chargeback; cuotas with CFT/TEA; Mercado Pago switched off."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import uuid

import asyncpg
import httpx

from server.integrations.mercadopago import sign_webhook
from server.runtime import Resources
from server.sandbox.mercadopago import RunningMercadoPagoSandbox
from tests.server.mercadopago.conftest import MP_WEBHOOK_SECRET, pay_preference
from tests.server.payments.conftest import (
    API,
    Org,
    audit_actions,
    connect_mercadopago,
    issued_invoice,
    make_org,
    ok,
    until,
)


async def _linked_invoice(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection
) -> tuple[Org, dict, dict]:
    org = await make_org(pay, resources)
    connection = await connect_mercadopago(pay, org)
    assert connection["connected"] is True and connection["mpUserId"]
    invoice = await issued_invoice(pay, org, admin_conn)
    link = await ok(await pay.post(f"{API}/invoices/{invoice['id']}/payment-link", headers=org.headers), 201)
    return org, invoice, link


async def _invoice(pay: httpx.AsyncClient, org: Org, invoice_id: str) -> dict:
    return await ok(await pay.get(f"{API}/invoices/{invoice_id}", headers=org.headers))


async def _settled(admin_conn: asyncpg.Connection, data_id: str, deliveries: int | None = None) -> bool:
    row = await admin_conn.fetchrow(
        "SELECT pending, deliveries FROM mercadopago_webhook_events WHERE topic = 'payment' AND data_id = $1", data_id
    )
    return row is not None and not row["pending"] and (deliveries is None or row["deliveries"] >= deliveries)


async def test_connect_link_pay_and_the_invoice_is_paid(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org, invoice, link = await _linked_invoice(pay, resources, admin_conn)
    # the tokens are stored sealed, never in the clear
    sealed = await admin_conn.fetchrow(
        "SELECT access_token_encrypted, refresh_token_encrypted, mp_user_id FROM mercadopago_connections c "
        "JOIN payments p ON p.org_id = c.org_id WHERE p.id = $1",
        uuid.UUID(link["paymentId"]),
    )
    assert sealed is not None and "APP_USR" not in sealed["access_token_encrypted"]
    assert not sealed["refresh_token_encrypted"].startswith("TG-")

    preference = mp.sandbox.preference(link["preferenceId"])
    assert preference["external_reference"] == link["paymentId"]
    assert sum(float(i["unit_price"]) * i["quantity"] for i in preference["items"]) == float(invoice["totalAmount"])
    assert preference["payment_methods"]["installments"] == 12
    assert preference["notification_url"].startswith(str(pay.base_url))
    assert link["amount"] == invoice["totalAmount"] and link["status"] == "active" and link["initPoint"]
    # asking again gives the same link (no second preference)
    again = await ok(await pay.post(f"{API}/invoices/{invoice['id']}/payment-link", headers=org.headers), 201)
    assert again["id"] == link["id"]

    paid = pay_preference(mp, link["preferenceId"], status="approved", installments=3)
    await mp.sandbox.await_webhooks()
    await until(lambda: _settled(admin_conn, str(paid["id"])))
    after = await _invoice(pay, org, invoice["id"])
    assert after["status"] == "paid" and after["paidAmount"] == invoice["totalAmount"]
    payment = await ok(await pay.get(f"{API}/payments/{link['paymentId']}", headers=org.headers))
    assert payment["status"] == "approved" and payment["externalId"] == str(paid["id"])
    assert payment["installments"] == 3 and payment["method"] == "mercadopago"
    assert (await ok(await pay.get(f"{API}/invoices/{invoice['id']}/payment-link", headers=org.headers)))[
        "status"
    ] == "paid"
    nothing_due = await pay.post(f"{API}/invoices/{invoice['id']}/payment-link", headers=org.headers)
    assert nothing_due.status_code == 409 and nothing_due.json()["code"] == "payment_nothing_due"


async def test_a_used_or_unknown_oauth_state_is_refused(
    pay: httpx.AsyncClient, resources: Resources, mp: RunningMercadoPagoSandbox
) -> None:
    org = await make_org(pay, resources)
    start = await ok(await pay.get(f"{API}/payments/mercadopago/connect", headers=org.headers))
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(start["authorizationUrl"], follow_redirects=False)
    back = httpx.URL(consent.headers["location"])
    forged = await pay.get(
        f"{API}/payments/mercadopago/callback", params={"code": back.params["code"], "state": "x" * 40}
    )
    assert forged.status_code == 400 and forged.json()["code"] == "mercadopago_state_invalid"
    await ok(await pay.get(f"{back.path}?{back.query.decode()}"))
    replay = await pay.get(f"{back.path}?{back.query.decode()}")
    assert replay.status_code == 400 and replay.json()["code"] == "mercadopago_state_invalid"
    status = await ok(await pay.get(f"{API}/payments/mercadopago", headers=org.headers))
    assert status["connected"] is True
    gone = await ok(await pay.delete(f"{API}/payments/mercadopago", headers=org.headers))
    assert gone["connected"] is False
    invoice_less = await pay.get(f"{API}/payments/installments", headers=org.headers, params={"amount": "1000"})
    assert invoice_less.status_code == 409 and invoice_less.json()["code"] == "mercadopago_not_connected"


async def test_duplicate_and_reordered_webhooks_change_state_exactly_once(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org, invoice, link = await _linked_invoice(pay, resources, admin_conn)
    mp.sandbox.set_switches(duplicates=2, reorder=True)
    paid = pay_preference(mp, link["preferenceId"], status="pending")
    mp.sandbox.set_payment_status(paid["id"], "approved")
    mp.sandbox.set_payment_status(paid["id"], "refunded")
    released = mp.sandbox.flush()  # newest first: refunded, approved, created — each three times
    assert released == 9
    log = await mp.sandbox.await_webhooks()
    assert sum(1 for w in log if w["data_id"] == str(paid["id"])) == 9
    await until(lambda: _settled(admin_conn, str(paid["id"]), 9))
    await asyncio.sleep(0.5)  # any job still queued for a duplicate finds nothing to do
    actions = [a for a in await audit_actions(admin_conn, link["paymentId"]) if a.startswith("payment.")]
    assert actions == ["payment.approved", "payment.refunded"]
    events = await admin_conn.fetchrow(
        "SELECT deliveries, changes FROM mercadopago_webhook_events WHERE topic = 'payment' AND data_id = $1",
        str(paid["id"]),
    )
    assert events["deliveries"] == 9 and events["changes"] == 2
    final = await _invoice(pay, org, invoice["id"])
    assert final["paidAmount"] == "0.00" and final["status"] == "issued"


async def test_bad_missing_and_stale_signatures_are_refused_and_logged_without_secrets(
    pay: httpx.AsyncClient,
    resources: Resources,
    admin_conn: asyncpg.Connection,
    mp: RunningMercadoPagoSandbox,
) -> None:
    org, invoice, link = await _linked_invoice(pay, resources, admin_conn)
    stream = io.StringIO()
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_campotech", False))
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    mp.sandbox.set_switches(bad_signature=True)
    paid = pay_preference(mp, link["preferenceId"], status="approved")
    log = await mp.sandbox.await_webhooks()
    answers = [a["status"] for w in log if w["data_id"] == str(paid["id"]) for a in w["attempts"]]
    assert answers and set(answers) == {401}
    assert (await _invoice(pay, org, invoice["id"]))["status"] == "issued"

    seller = (await ok(await pay.get(f"{API}/payments/mercadopago", headers=org.headers)))["mpUserId"]
    body = json.dumps(
        {"type": "payment", "action": "payment.updated", "user_id": int(seller), "data": {"id": str(paid["id"])}}
    )
    url = f"/webhooks/mercadopago?data.id={paid['id']}&type=payment"
    unsigned = await pay.post(url, content=body)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "webhook_signature_invalid"
    old = int((time.time() - 3600) * 1000)
    stale_sig = sign_webhook(data_id=str(paid["id"]), request_id="req-stale-1", ts=old, secret=MP_WEBHOOK_SECRET)
    stale = await pay.post(url, content=body, headers={"x-signature": stale_sig, "x-request-id": "req-stale-1"})
    assert stale.status_code == 401 and stale.json()["details"]["reason"] == "stale"
    assert (
        await admin_conn.fetchval("SELECT count(*) FROM mercadopago_webhook_events WHERE data_id = $1", str(paid["id"]))
        == 0
    )
    handler.setStream(previous)  # type: ignore[attr-defined]
    text = stream.getvalue()
    assert "mercadopago webhook rejected" in text and "stale" in text and "mismatch" in text
    assert MP_WEBHOOK_SECRET not in text and stale_sig not in text and "v1=" not in text

    # a good signature gets in; an unknown topic is acknowledged and stored raw
    now = int(time.time() * 1000)
    good = sign_webhook(data_id=str(paid["id"]), request_id="req-good-1", ts=now, secret=MP_WEBHOOK_SECRET)
    accepted = await pay.post(url, content=body, headers={"x-signature": good, "x-request-id": "req-good-1"})
    assert accepted.status_code == 200
    await until(lambda: _settled(admin_conn, str(paid["id"])))
    assert (await _invoice(pay, org, invoice["id"]))["status"] == "paid"
    odd = json.dumps({"type": "mp-connect", "action": "application.authorized", "data": {"id": "Abc-9"}})
    sig = sign_webhook(data_id="Abc-9", request_id="req-odd", ts=now, secret=MP_WEBHOOK_SECRET)
    unknown = await pay.post(
        "/webhooks/mercadopago?data.id=Abc-9&type=mp-connect",
        content=odd,
        headers={"x-signature": sig, "x-request-id": "req-odd"},
    )
    assert unknown.status_code == 200
    stored = await admin_conn.fetchrow(
        "SELECT outcome, pending, body FROM mercadopago_webhook_events WHERE data_id = 'Abc-9'"
    )
    assert stored["outcome"] == "ignored_topic" and stored["pending"] is False


async def test_refund_through_mercadopago_and_over_refund_refused(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org, invoice, link = await _linked_invoice(pay, resources, admin_conn)
    paid = pay_preference(mp, link["preferenceId"], status="approved")
    await mp.sandbox.await_webhooks()
    await until(lambda: _settled(admin_conn, str(paid["id"])))
    total = float(invoice["totalAmount"])
    over = await pay.post(
        f"{API}/payments/{link['paymentId']}/refunds", headers=org.headers, json={"amount": f"{total + 0.01:.2f}"}
    )
    assert over.status_code == 422 and over.json()["code"] == "refund_exceeds_paid"
    partial = await ok(
        await pay.post(f"{API}/payments/{link['paymentId']}/refunds", headers=org.headers, json={"amount": "1000.00"}),
        201,
    )
    assert partial["status"] == "partially_refunded" and partial["refundedAmount"] == "1000.00"
    assert partial["refunds"][0]["externalId"]
    assert float(mp.sandbox.payment(paid["id"])["transaction_amount_refunded"]) == 1000.0
    after = await _invoice(pay, org, invoice["id"])
    assert after["status"] == "sent" and float(after["paidAmount"]) == total - 1000
    rest = await ok(await pay.post(f"{API}/payments/{link['paymentId']}/refunds", headers=org.headers, json={}), 201)
    assert rest["status"] == "refunded"
    assert mp.sandbox.payment(paid["id"])["status"] == "refunded"
    assert (await _invoice(pay, org, invoice["id"]))["paidAmount"] == "0.00"


async def test_a_chargeback_opens_a_dispute_and_losing_it_reopens_the_invoice(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org, invoice, link = await _linked_invoice(pay, resources, admin_conn)
    paid = pay_preference(mp, link["preferenceId"], status="approved")
    await mp.sandbox.await_webhooks()
    await until(lambda: _settled(admin_conn, str(paid["id"])))
    mp.sandbox.set_payment_status(paid["id"], "in_mediation")
    await mp.sandbox.await_webhooks()

    async def dispute_open() -> list:
        found = await ok(await pay.get(f"{API}/payments/disputes", headers=org.headers))
        return found if found and found[0]["documentationDeadline"] else []

    disputes = await until(dispute_open)
    assert disputes[0]["status"] == "open" and disputes[0]["paymentId"] == link["paymentId"]
    await ok(
        await pay.patch(
            f"{API}/payments/disputes/{disputes[0]['id']}",
            headers=org.headers,
            json={"evidenceNotes": "Remito firmado por la clienta el 20/11"},
        )
    )
    mp.sandbox.set_payment_status(paid["id"], "charged_back")
    await mp.sandbox.await_webhooks()

    async def lost() -> dict | None:
        payment = await ok(await pay.get(f"{API}/payments/{link['paymentId']}", headers=org.headers))
        found = (await ok(await pay.get(f"{API}/payments/disputes", headers=org.headers)))[0]
        return found if payment["status"] == "charged_back" and found["status"] != "open" else None

    dispute = await until(lost)
    assert dispute["status"] == "lost" and dispute["evidenceNotes"] == "Remito firmado por la clienta el 20/11"
    after = await _invoice(pay, org, invoice["id"])
    assert after["paidAmount"] == "0.00" and after["status"] == "sent"


async def test_installments_show_cft_and_tea_from_labels_or_our_model(
    pay: httpx.AsyncClient, resources: Resources, mp: RunningMercadoPagoSandbox
) -> None:
    org = await make_org(pay, resources)
    await connect_mercadopago(pay, org)
    visa = await ok(
        await pay.get(
            f"{API}/payments/installments", headers=org.headers, params={"amount": "1000", "paymentMethodId": "visa"}
        )
    )
    galicia3 = next(o for o in visa["options"] if o["issuerName"] == "Banco Galicia" and o["installments"] == 3)
    assert galicia3["figuresSource"] == "mercadopago"
    assert galicia3["cft"] and galicia3["tea"] and float(galicia3["cft"]) > float(galicia3["tea"]) > 0
    naranja = await ok(
        await pay.get(
            f"{API}/payments/installments", headers=org.headers, params={"amount": "1000", "paymentMethodId": "naranja"}
        )
    )
    six = next(o for o in naranja["options"] if o["installments"] == 6)
    assert six["figuresSource"] == "calculated"
    assert float(six["cft"]) > float(six["tea"]) > 0
    bad = await pay.get(f"{API}/payments/installments", headers=org.headers, params={"amount": "-3"})
    assert bad.status_code == 422 and bad.json()["code"] == "payment_amount_invalid"


async def test_mercadopago_switched_off_offers_manual_payment_and_webhooks_wait(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org, invoice, link = await _linked_invoice(pay, resources, admin_conn)
    org_id = await admin_conn.fetchval("SELECT org_id FROM payments WHERE id = $1", uuid.UUID(link["paymentId"]))
    await resources.capabilities.set_org_override(resources.sessionmaker, org_id, "mercadopago", False, "prueba")
    try:
        second = await issued_invoice(pay, org, admin_conn)
        refused = await pay.post(f"{API}/invoices/{second['id']}/payment-link", headers=org.headers)
        assert refused.status_code == 503
        assert refused.json()["code"] == "mercadopago_unavailable" and "pago manual" in refused.json()["message"]
        paid = pay_preference(mp, link["preferenceId"], status="approved")
        log = await mp.sandbox.await_webhooks()
        assert [a["status"] for w in log for a in w["attempts"]][-1] == 200  # acknowledged, not lost
        await asyncio.sleep(1.0)
        assert (await _invoice(pay, org, invoice["id"]))["status"] == "issued"
        assert not await _settled(admin_conn, str(paid["id"]))
    finally:
        await resources.capabilities.clear_org_override(resources.sessionmaker, org_id, "mercadopago")
    # back on: the waiting notification is processed (the sweep re-queues what waited)
    from server.domain.payments.webhooks import requeue_pending

    assert await requeue_pending(resources, older_than_seconds=0) >= 1
    await until(lambda: _settled(admin_conn, str(paid["id"])))
    assert (await _invoice(pay, org, invoice["id"]))["status"] == "paid"


async def test_odd_but_signed_notifications_are_acknowledged_and_stored_never_a_500(
    pay: httpx.AsyncClient, admin_conn: asyncpg.Connection
) -> None:
    now = int(time.time())  # 10-digit seconds, as Mercado Pago's docs show it
    cases = [
        ("7000000001", b"{not json", "payment"),
        ("7000000002", json.dumps(["a", "list"]).encode(), "payment"),
        ("7000000003", json.dumps({"type": "payment", "data": {"id": 7000000003}, "user_id": "999"}).encode(), None),
    ]
    for data_id, raw, topic in cases:
        sig = sign_webhook(data_id=data_id, request_id=f"req-{data_id}", ts=now, secret=MP_WEBHOOK_SECRET)
        query = f"data.id={data_id}" + (f"&type={topic}" if topic else "")
        answer = await pay.post(
            f"/webhooks/mercadopago?{query}",
            content=raw,
            headers={"x-signature": sig, "x-request-id": f"req-{data_id}"},
        )
        assert answer.status_code == 200, answer.text

    async def processed() -> bool:
        rows = await admin_conn.fetch(
            "SELECT outcome FROM mercadopago_webhook_events WHERE data_id = ANY($1::text[]) AND NOT pending",
            [c[0] for c in cases],
        )
        return len(rows) == 3

    await until(processed)
    outcomes = {
        r["data_id"]: r["outcome"]
        for r in await admin_conn.fetch(
            "SELECT data_id, outcome FROM mercadopago_webhook_events WHERE data_id = ANY($1::text[])",
            [c[0] for c in cases],
        )
    }
    assert set(outcomes.values()) == {"unknown_account"}  # no seller of ours: recorded, nothing changed


async def test_the_owner_sets_how_many_cuotas_and_days_a_link_offers(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org = await make_org(pay, resources)
    await connect_mercadopago(pay, org)
    settings = await ok(
        await pay.patch(
            f"{API}/organization", headers=org.headers, json={"mercadopagoMaxInstallments": 3, "paymentLinkDays": 2}
        )
    )
    assert (settings["mercadopagoMaxInstallments"], settings["paymentLinkDays"]) == (3, 2)
    too_many = await pay.patch(f"{API}/organization", headers=org.headers, json={"mercadopagoMaxInstallments": 36})
    assert too_many.status_code == 422
    invoice = await issued_invoice(pay, org, admin_conn)
    link = await ok(await pay.post(f"{API}/invoices/{invoice['id']}/payment-link", headers=org.headers), 201)
    preference = mp.sandbox.preference(link["preferenceId"])
    assert preference["payment_methods"]["installments"] == 3
