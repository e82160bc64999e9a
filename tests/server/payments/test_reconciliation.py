"""Reconciliation against the sandbox finds each kind of discrepancy, fixes the safe ones, lists them for
a person and adds nothing when run again; the scheduled refresh rotates an expiring connection's tokens."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import asyncpg
import httpx

from server.domain.payments.connection import access_token
from server.domain.payments.reconcile import refresh_tokens
from server.integrations.mercadopago import MercadoPagoClient, PreferenceItem, PreferenceRequest
from server.runtime import Resources
from server.sandbox.mercadopago import RunningMercadoPagoSandbox
from tests.server.mercadopago.conftest import pay_preference
from tests.server.payments.conftest import API, connect_mercadopago, issued_invoice, make_org, ok, until


async def test_reconciliation_finds_each_kind_of_discrepancy(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org = await make_org(pay, resources)
    connection = await connect_mercadopago(pay, org)
    org_id = await admin_conn.fetchval(
        "SELECT org_id FROM mercadopago_connections WHERE mp_user_id = $1", connection["mpUserId"]
    )

    async def link_for() -> tuple[dict, dict]:
        invoice = await issued_invoice(pay, org, admin_conn)
        link = await ok(await pay.post(f"{API}/invoices/{invoice['id']}/payment-link", headers=org.headers), 201)
        return invoice, link

    # 1. paid while every notification was lost (refused): our payment stays pending — behind MP's
    lost_invoice, lost_link = await link_for()
    # 2. paid with another amount than the link asked, notification lost too
    short_invoice, short_link = await link_for()
    # 3. a payment we know as approved that Mercado Pago now reports as pending (not a move we can make)
    odd_invoice, odd_link = await link_for()
    odd = pay_preference(mp, odd_link["preferenceId"], status="approved")
    await mp.sandbox.await_webhooks()

    async def approved() -> bool:
        body = await ok(await pay.get(f"{API}/payments/{odd_link['paymentId']}", headers=org.headers))
        return body["status"] == "approved"

    await until(approved)
    mp.sandbox.set_switches(bad_signature=True)
    lost = pay_preference(mp, lost_link["preferenceId"], status="approved")
    short = pay_preference(mp, short_link["preferenceId"], status="approved", amount="1000.00")
    mp.sandbox.set_payment_status(odd["id"], "pending")
    # 4. a payment of this seller we never made a link for
    token = await access_token(resources, org_id)
    assert token is not None
    async with MercadoPagoClient(token, api_base=mp.url) as seller:
        stray_pref = await seller.create_preference(
            PreferenceRequest(
                items=(PreferenceItem(id="x", title="Venta en el local", quantity=1, unit_price=Decimal("777.00")),),
                external_reference="mostrador-17",
                notification_url=None,
            ),
            idempotency_key=str(uuid.uuid4()),
        )
    stray = pay_preference(mp, stray_pref.id, status="approved")
    await mp.sandbox.await_webhooks()
    mp.sandbox.set_switches(bad_signature=False)

    # (the refused notifications changed nothing; the scheduled run every 15 minutes may get there first, so the
    # figures of this run are not asserted, only what was found and fixed)
    report = await ok(await pay.post(f"{API}/payments/reconcile", headers=org.headers))
    assert report["checked"] >= 4

    # the safe one was fixed: the lost payment is approved and its invoice paid
    fixed = await ok(await pay.get(f"{API}/payments/{lost_link['paymentId']}", headers=org.headers))
    assert fixed["status"] == "approved" and fixed["externalId"] == str(lost["id"])
    assert (await ok(await pay.get(f"{API}/invoices/{lost_invoice['id']}", headers=org.headers)))["status"] == "paid"
    # the short payment counts for what was paid
    partial = await ok(await pay.get(f"{API}/invoices/{short_invoice['id']}", headers=org.headers))
    assert partial["paidAmount"] == "1000.00" and partial["status"] == "issued"
    # the odd one is left for a person
    kept = await ok(await pay.get(f"{API}/payments/{odd_link['paymentId']}", headers=org.headers))
    assert kept["status"] == "approved"
    assert (await ok(await pay.get(f"{API}/invoices/{odd_invoice['id']}", headers=org.headers)))["status"] == "paid"

    open_ = await ok(await pay.get(f"{API}/payments/discrepancies", headers=org.headers))
    by_key = {(d["kind"], d["externalId"]): d for d in open_["items"]}
    assert ("missing_locally", str(stray["id"])) in by_key
    assert ("amount_differs", str(short["id"])) in by_key
    assert by_key[("amount_differs", str(short["id"]))]["details"]["mercadopago"] == "1000.00"
    assert ("status_differs", str(odd["id"])) in by_key
    assert by_key[("status_differs", str(odd["id"]))]["autoFixed"] is False
    assert ("status_differs", str(lost["id"])) not in by_key  # fixed: not waiting for anyone
    every = await ok(await pay.get(f"{API}/payments/discrepancies", headers=org.headers, params={"open": "false"}))
    auto = [d for d in every["items"] if d["externalId"] == str(lost["id"])]
    assert auto and auto[0]["autoFixed"] is True and auto[0]["resolvedAt"]

    # running it again records nothing new
    await ok(await pay.post(f"{API}/payments/reconcile", headers=org.headers))
    assert (await ok(await pay.get(f"{API}/payments/discrepancies", headers=org.headers)))["total"] == open_["total"]

    resolved = await ok(
        await pay.post(
            f"{API}/payments/discrepancies/{by_key[('missing_locally', str(stray['id']))]['id']}/resolve",
            headers=org.headers,
            json={"note": "Venta de mostrador cobrada con QR: sin factura"},
        )
    )
    assert resolved["resolvedAt"] and resolved["resolutionNote"].startswith("Venta de mostrador")
    assert (await ok(await pay.get(f"{API}/payments/discrepancies", headers=org.headers)))["total"] == open_[
        "total"
    ] - 1
    other = await make_org(pay, resources, "Otra SRL")
    assert (await ok(await pay.get(f"{API}/payments/discrepancies", headers=other.headers)))["total"] == 0


async def test_the_scheduled_refresh_rotates_tokens_before_they_expire(
    pay: httpx.AsyncClient, resources: Resources, admin_conn: asyncpg.Connection, mp: RunningMercadoPagoSandbox
) -> None:
    org = await make_org(pay, resources)
    connection = await connect_mercadopago(pay, org)
    before = await admin_conn.fetchrow(
        "SELECT org_id, access_token_encrypted, refresh_token_encrypted FROM mercadopago_connections "
        "WHERE mp_user_id = $1",
        connection["mpUserId"],
    )
    old_token = await access_token(resources, before["org_id"])
    await admin_conn.execute(
        "UPDATE mercadopago_connections SET expires_at = now() + interval '3 days' WHERE org_id = $1", before["org_id"]
    )
    outcome = await refresh_tokens({"resources": resources})
    assert outcome.get("refreshed", 0) >= 1
    after = await admin_conn.fetchrow(
        "SELECT access_token_encrypted, refresh_token_encrypted, expires_at, status FROM mercadopago_connections "
        "WHERE org_id = $1",
        before["org_id"],
    )
    assert after["status"] == "active"
    assert after["refresh_token_encrypted"] != before["refresh_token_encrypted"]
    assert after["expires_at"] > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=170)
    new_token = await access_token(resources, before["org_id"])
    assert new_token and new_token != old_token
    # the new token works for the seller's account
    async with MercadoPagoClient(new_token, api_base=mp.url) as seller:
        await seller.search_payments(limit=1)
