"""The Mercado Pago sandbox's webhooks and controls: what a receiver in the test actually gets."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from server.integrations.mercadopago import (
    InvalidWebhookSignature,
    MercadoPagoClient,
    PreferenceItem,
    PreferenceRequest,
    verify_webhook_signature,
)
from server.sandbox.mercadopago import RunningMercadoPagoSandbox
from tests.server.mercadopago.conftest import (
    MP_ACCESS_TOKEN,
    MP_WEBHOOK_SECRET,
    Received,
    WebhookReceiver,
    pay_preference,
)


@pytest.fixture
async def client(mp: RunningMercadoPagoSandbox) -> AsyncIterator[MercadoPagoClient]:
    mp_client = MercadoPagoClient(MP_ACCESS_TOKEN, api_base=mp.url, timeout=5.0)
    yield mp_client
    await mp_client.aclose()


async def _preference(client: MercadoPagoClient, url: str | None, reference: str, **kw: object) -> str:
    req = PreferenceRequest(
        items=(PreferenceItem(id="svc", title="Visita técnica", quantity=1, unit_price=Decimal("15000")),),
        external_reference=reference,
        notification_url=url,
        **kw,  # type: ignore[arg-type]
    )
    return (await client.create_preference(req, idempotency_key=f"k-{reference}")).id


def _verify(hit: Received, secret: str = MP_WEBHOOK_SECRET) -> None:
    verify_webhook_signature(
        x_signature=hit.headers.get("x-signature"),
        x_request_id=hit.headers.get("x-request-id"),
        data_id=hit.query.get("data.id"),
        secret=secret,
        now=time.time(),
    )


async def _wait(mp: RunningMercadoPagoSandbox, receiver: WebhookReceiver, count: int) -> list[Received]:
    await mp.sandbox.await_webhooks(within=15)
    with receiver.lock:
        assert len(receiver.received) == count, [r.body for r in receiver.received]
        return list(receiver.received)


async def test_paying_sends_a_signed_webhook(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    pref = await _preference(client, webhook_receiver.url, "wh-001")
    payment = pay_preference(mp, pref, installments=3)
    [hit] = await _wait(mp, webhook_receiver, 1)
    assert hit.path == "/webhooks/mercadopago"
    assert hit.query == {"data.id": str(payment["id"]), "type": "payment"}
    _verify(hit)
    assert len(hit.headers["x-signature"].split(",")[0]) == len("ts=") + 13  # milliseconds
    body = hit.body
    assert body["type"] == "payment" and body["action"] == "payment.created" and body["api_version"] == "v1"
    assert body["data"] == {"id": str(payment["id"])}
    assert isinstance(body["id"], int) and body["user_id"] == payment["collector_id"]
    assert body["live_mode"] is False
    # what the receiver then fetches
    fetched = await client.get_payment(body["data"]["id"])
    assert fetched.status == "approved" and fetched.installments == 3 and fetched.external_reference == "wh-001"
    [logged] = mp.sandbox.webhooks()
    assert logged["delivered"] and [a["status"] for a in logged["attempts"]] == [200]


async def test_non_2xx_answers_are_retried(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [500, 503]
    pref = await _preference(client, webhook_receiver.url, "wh-002")
    pay_preference(mp, pref)
    hits = await _wait(mp, webhook_receiver, 3)
    assert len({h.body["id"] for h in hits}) == 1
    [logged] = mp.sandbox.webhooks()
    assert [a["status"] for a in logged["attempts"]] == [500, 503, 200] and logged["delivered"]


async def test_unreachable_receiver_is_logged_not_delivered(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    pref = await _preference(client, dead, "wh-003")
    pay_preference(mp, pref)
    [logged] = await mp.sandbox.await_webhooks(within=15)
    assert not logged["delivered"]
    assert len(logged["attempts"]) == mp.sandbox.webhook_retries + 1
    assert all(a["status"] is None and a["error"] for a in logged["attempts"])


async def test_duplicates_switch(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    mp.sandbox.set_switches(duplicates=2)
    pref = await _preference(client, webhook_receiver.url, "wh-004")
    payment = pay_preference(mp, pref)
    hits = await _wait(mp, webhook_receiver, 3)
    assert {h.body["data"]["id"] for h in hits} == {str(payment["id"])}
    assert len({h.body["id"] for h in hits}) == 1  # the same notification, three times
    assert len({h.headers["x-request-id"] for h in hits}) == 3
    for hit in hits:
        _verify(hit)


async def test_reorder_switch_sends_newest_first(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    mp.sandbox.set_switches(reorder=True)
    pref = await _preference(client, webhook_receiver.url, "wh-005")
    payment = pay_preference(mp, pref)
    await client.refund(str(payment["id"]), Decimal("5000"), idempotency_key="r-wh-005")
    await mp.sandbox.await_webhooks(within=5)
    assert webhook_receiver.received == []  # held
    mp.sandbox.set_switches(reorder=False)  # releases them
    hits = await _wait(mp, webhook_receiver, 2)
    assert [h.body["action"] for h in hits] == ["payment.updated", "payment.created"]
    for hit in hits:
        _verify(hit)
    # the payment itself reflects the latest state whatever the order
    assert (await client.get_payment(str(payment["id"]))).status_detail == "partially_refunded"


async def test_bad_signature_switch(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    mp.sandbox.set_switches(bad_signature=True)
    pref = await _preference(client, webhook_receiver.url, "wh-006")
    pay_preference(mp, pref)
    [hit] = await _wait(mp, webhook_receiver, 1)
    with pytest.raises(InvalidWebhookSignature) as caught:
        _verify(hit)
    assert caught.value.reason == "mismatch"


async def test_delay_and_seconds_timestamp_switches(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    mp.sandbox.set_switches(delay_seconds=0.6, ts_seconds=True)
    pref = await _preference(client, webhook_receiver.url, "wh-007")
    started = time.monotonic()
    pay_preference(mp, pref)
    await asyncio.sleep(0.3)
    assert webhook_receiver.received == []
    [hit] = await _wait(mp, webhook_receiver, 1)
    assert time.monotonic() - started >= 0.6
    assert len(hit.headers["x-signature"].split(",")[0]) == len("ts=") + 10
    _verify(hit)


async def test_disputes_send_payment_and_chargeback_webhooks(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    pref = await _preference(client, webhook_receiver.url, "wh-008")
    payment = pay_preference(mp, pref)
    await _wait(mp, webhook_receiver, 1)
    async with httpx.AsyncClient(base_url=mp.url) as http:
        answer = await http.post(f"/_sandbox/payments/{payment['id']}/status", json={"status": "in_mediation"})
        assert answer.status_code == 200 and answer.json()["status"] == "in_mediation"
        hits = (await _wait(mp, webhook_receiver, 3))[1:]
        assert [(h.body["type"], h.query["type"]) for h in hits] == [
            ("payment", "payment"),
            ("chargebacks", "chargebacks"),
        ]
        chargeback = await client.get_chargeback(hits[1].body["data"]["id"])
        assert chargeback.payment_id == str(payment["id"]) and chargeback.status == "open"
        await http.post(f"/_sandbox/payments/{payment['id']}/status", json={"status": "approved"})
        await _wait(mp, webhook_receiver, 5)
        assert (await client.get_chargeback(chargeback.id)).status == "won"
        bad = await http.post(f"/_sandbox/payments/{payment['id']}/status", json={"status": "stolen"})
        assert bad.status_code == 400


async def test_application_webhook_url_and_controls_over_http(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, webhook_receiver: WebhookReceiver
) -> None:
    pref = await _preference(client, None, "wh-009")
    async with httpx.AsyncClient(base_url=mp.url) as http:
        switched = await http.post("/_sandbox/switches", json={"notification_url": webhook_receiver.url})
        assert switched.status_code == 200 and switched.json()["notification_url"] == webhook_receiver.url
        bad = await http.post("/_sandbox/switches", json={"duplicates": -1})
        assert bad.status_code == 400 and "duplicates" in bad.json()["message"]
        assert (await http.post("/_sandbox/switches", json={"nonsense": 1})).status_code == 400
        paid = await http.post(f"/_sandbox/preferences/{pref}/pay", json={"status": "rejected"})
        assert paid.status_code == 201 and paid.json()["status"] == "rejected"
        missing = await http.post("/_sandbox/preferences/nope/pay", json={})
        assert missing.status_code == 404
        too_many = await http.post(f"/_sandbox/preferences/{pref}/pay", json={"installments": "tres"})
        assert too_many.status_code == 400
        [hit] = await _wait(mp, webhook_receiver, 1)
        _verify(hit)
        log = (await http.get("/_sandbox/webhooks")).json()["webhooks"]
        assert [w["data_id"] for w in log] == [str(paid.json()["id"])]
        assert log[0]["attempts"][0]["status"] == 200


async def test_installment_limit_and_expiry_are_enforced_when_paying(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox
) -> None:
    limited = await _preference(client, None, "wh-010", max_installments=3)
    async with httpx.AsyncClient(base_url=mp.url) as http:
        over = await http.post(f"/_sandbox/preferences/{limited}/pay", json={"installments": 6})
        assert over.status_code == 400
        expired = await _preference(client, None, "wh-011", expires_at=datetime.now(UTC) - timedelta(minutes=1))
        late = await http.post(f"/_sandbox/preferences/{expired}/pay", json={})
        assert late.status_code == 400 and "expired" in late.json()["message"]


async def test_the_checkout_page_pays_and_returns_to_the_back_url(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox
) -> None:
    pref_id = await _preference(client, None, "wh-012", back_urls={"success": "https://app.example/pagado"})
    pref = mp.sandbox.preference(pref_id)
    async with httpx.AsyncClient() as http:
        page = await http.get(pref["init_point"])
        assert page.status_code == 200 and "$ 15.000,00" in page.text and "Pagar" in page.text
        paid = await http.post(
            f"{mp.url}/_sandbox/preferences/{pref_id}/pay", data={"status": "approved", "installments": "3"}
        )
    assert paid.status_code == 303
    location = paid.headers["location"]
    assert location.startswith("https://app.example/pagado?") and "status=approved" in location
    [payment] = (await client.search_payments(external_reference="wh-012"))[0]
    assert payment.installments == 3 and f"payment_id={payment.id}" in location


async def test_state_survives_a_restart(client: MercadoPagoClient, mp: RunningMercadoPagoSandbox) -> None:
    from server.integrations.mercadopago import MercadoPagoOAuth
    from server.sandbox.mercadopago import start_mercadopago_sandbox
    from tests.server.mercadopago.conftest import MP_CLIENT_ID, MP_CLIENT_SECRET

    oauth = MercadoPagoOAuth(MP_CLIENT_ID, MP_CLIENT_SECRET, api_base=mp.url)
    code = mp.sandbox.authorize("http://127.0.0.1:9/cb")
    tokens = await oauth.exchange_code(code, "http://127.0.0.1:9/cb")
    async with MercadoPagoClient(tokens.access_token, api_base=mp.url) as seller:
        pref = (await seller.create_preference(_request_for("wh-013"), idempotency_key="k-wh-013")).id
    payment_id = str(pay_preference(mp, pref)["id"])
    state = mp.sandbox.dump()
    with start_mercadopago_sandbox(client_id=MP_CLIENT_ID, client_secret=MP_CLIENT_SECRET) as fresh:
        fresh.sandbox.load(state)
        async with MercadoPagoClient(tokens.access_token, api_base=fresh.url) as seller:
            assert (await seller.get_payment(payment_id)).external_reference == "wh-013"
            again = await seller.create_preference(_request_for("wh-013"), idempotency_key="k-wh-013")
            assert again.id == pref
        assert tokens.refresh_token is not None
        refreshed = await MercadoPagoOAuth(MP_CLIENT_ID, MP_CLIENT_SECRET, api_base=fresh.url).refresh(
            tokens.refresh_token
        )
        assert refreshed.user_id == tokens.user_id
        assert int(pay_preference(fresh, pref)["id"]) > int(payment_id)  # ids keep growing


def _request_for(reference: str) -> PreferenceRequest:
    return PreferenceRequest(
        items=(PreferenceItem(id="svc", title="Visita técnica", quantity=1, unit_price=Decimal("15000")),),
        external_reference=reference,
        notification_url=None,
    )
