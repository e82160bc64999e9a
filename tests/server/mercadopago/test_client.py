"""MercadoPagoClient and MercadoPagoOAuth against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from server.integrations.mercadopago import (
    MercadoPagoClient,
    MercadoPagoNotFound,
    MercadoPagoOAuth,
    MercadoPagoPermanentError,
    MercadoPagoTransientError,
    PreferenceItem,
    PreferenceRequest,
)
from server.sandbox.mercadopago import RunningMercadoPagoSandbox
from tests.server.mercadopago.conftest import MP_ACCESS_TOKEN, MP_CLIENT_ID, MP_CLIENT_SECRET, pay_preference


@pytest.fixture
async def client(mp: RunningMercadoPagoSandbox) -> AsyncIterator[MercadoPagoClient]:
    mp_client = MercadoPagoClient(MP_ACCESS_TOKEN, api_base=mp.url, timeout=5.0)
    yield mp_client
    await mp_client.aclose()


def _request(reference: str, **kw: object) -> PreferenceRequest:
    items = (
        PreferenceItem(id="svc-1", title="Cambio de térmica", quantity=1, unit_price=Decimal("45000.50")),
        PreferenceItem(id="mat-2", title="Cable 2,5 mm", quantity=3, unit_price=Decimal("1200")),
    )
    return PreferenceRequest(items=items, external_reference=reference, notification_url=None, **kw)  # type: ignore[arg-type]


async def test_create_preference_sends_items_installments_and_expiry(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox
) -> None:
    expires = datetime.now(UTC) + timedelta(days=7)
    req = _request(
        "pay-001",
        max_installments=6,
        expires_at=expires,
        payer_email="cliente@example.com",
        back_urls={"success": "https://app.example/ok", "failure": "https://app.example/ko"},
        statement_descriptor="CAMPOTECH",
    )
    pref = await client.create_preference(req, idempotency_key="key-pay-001")
    assert pref.init_point.startswith(mp.url) and pref.id in pref.init_point
    assert pref.expires_at is not None and abs((pref.expires_at - expires).total_seconds()) < 1
    stored = mp.sandbox.preference(pref.id)
    assert stored["external_reference"] == "pay-001"
    assert [(i["title"], i["quantity"], i["unit_price"]) for i in stored["items"]] == [
        ("Cambio de térmica", 1, 45000.5),
        ("Cable 2,5 mm", 3, 1200),
    ]
    assert stored["payment_methods"]["installments"] == 6
    assert stored["payer"]["email"] == "cliente@example.com"
    assert stored["auto_return"] == "approved"
    # the buyer pays what the items add up to
    payment = pay_preference(mp, pref.id)
    assert Decimal(str(payment["transaction_amount"])) == Decimal("48600.50")


async def test_preference_idempotency_key(client: MercadoPagoClient) -> None:
    first = await client.create_preference(_request("pay-002"), idempotency_key="same-key-002")
    again = await client.create_preference(_request("pay-002"), idempotency_key="same-key-002")
    other = await client.create_preference(_request("pay-002"), idempotency_key="other-key-002")
    assert again.id == first.id and again.init_point == first.init_point
    assert other.id != first.id


async def test_preference_refused_input_is_permanent(client: MercadoPagoClient) -> None:
    bad = PreferenceRequest(
        items=(PreferenceItem(id="x", title="Nada", quantity=1, unit_price=Decimal("0")),),
        external_reference="pay-003",
        notification_url=None,
    )
    with pytest.raises(MercadoPagoPermanentError) as caught:
        await client.create_preference(bad, idempotency_key="k-003")
    assert caught.value.status == 400 and not caught.value.transient
    assert not isinstance(caught.value, MercadoPagoNotFound)


async def test_a_wrong_token_is_permanent(mp: RunningMercadoPagoSandbox) -> None:
    async with MercadoPagoClient("APP_USR-not-a-token", api_base=mp.url) as bad:
        with pytest.raises(MercadoPagoPermanentError) as caught:
            await bad.create_preference(_request("pay-004"), idempotency_key="k-004")
        assert caught.value.status == 401
        with pytest.raises(MercadoPagoPermanentError) as caught:
            await bad.get_payment("1")
        assert caught.value.status == 401
    assert "not-a-token" not in repr(bad)


async def test_get_payment_after_paying_in_cuotas(client: MercadoPagoClient, mp: RunningMercadoPagoSandbox) -> None:
    pref = await client.create_preference(_request("pay-005"), idempotency_key="k-005")
    paid = pay_preference(mp, pref.id, installments=3, payment_method_id="master")
    payment = await client.get_payment(str(paid["id"]))
    assert payment.id == str(paid["id"])
    assert (payment.status, payment.status_detail) == ("approved", "accredited")
    assert payment.external_reference == "pay-005"
    assert payment.transaction_amount == Decimal("48600.5")
    assert payment.installments == 3 and payment.payment_method_id == "master"
    assert payment.payment_type_id == "credit_card"
    assert payment.date_approved is not None and payment.date_approved.tzinfo is not None
    assert payment.refunds == () and payment.transaction_amount_refunded == 0
    assert payment.raw["id"] == paid["id"]


async def test_unknown_payment_is_not_found(client: MercadoPagoClient) -> None:
    with pytest.raises(MercadoPagoNotFound) as caught:
        await client.get_payment("999999999")
    assert caught.value.status == 404


async def test_search_payments_by_reference_and_dates(client: MercadoPagoClient, mp: RunningMercadoPagoSandbox) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for n in range(3):
        pref = await client.create_preference(_request("pay-006"), idempotency_key=f"k-006-{n}")
        ids.append(str(pay_preference(mp, pref.id, status="approved" if n else "rejected")["id"]))
    found, total = await client.search_payments(external_reference="pay-006")
    assert total == 3 and sorted(p.id for p in found) == sorted(ids)
    assert {p.status for p in found} == {"approved", "rejected"}
    page, total = await client.search_payments(external_reference="pay-006", offset=1, limit=1)
    assert total == 3 and len(page) == 1 and page[0].id == ids[1]  # oldest first
    recent, _ = await client.search_payments(begin_date=start, end_date=datetime.now(UTC) + timedelta(seconds=1))
    assert set(ids) <= {p.id for p in recent}
    later, total = await client.search_payments(begin_date=datetime.now(UTC) + timedelta(hours=1))
    assert total == 0 and later == []


async def test_refund_partial_then_the_rest_and_over_refund(
    client: MercadoPagoClient, mp: RunningMercadoPagoSandbox
) -> None:
    pref = await client.create_preference(_request("pay-007"), idempotency_key="k-007")
    payment_id = str(pay_preference(mp, pref.id, amount=1000)["id"])
    with pytest.raises(MercadoPagoPermanentError) as caught:
        await client.refund(payment_id, Decimal("1000.01"), idempotency_key="r-007-over")
    assert caught.value.status == 400
    assert (await client.get_payment(payment_id)).transaction_amount_refunded == 0

    partial = await client.refund(payment_id, Decimal("300.25"), idempotency_key="r-007-a")
    replay = await client.refund(payment_id, Decimal("300.25"), idempotency_key="r-007-a")
    assert partial.amount == Decimal("300.25") and partial.status == "approved"
    assert replay.id == partial.id
    after = await client.get_payment(payment_id)
    assert after.status == "approved" and after.status_detail == "partially_refunded"
    assert after.transaction_amount_refunded == Decimal("300.25") and len(after.refunds) == 1

    with pytest.raises(MercadoPagoPermanentError):
        await client.refund(payment_id, Decimal("700"), idempotency_key="r-007-b")
    rest = await client.refund(payment_id, None, idempotency_key="r-007-c")
    assert rest.amount == Decimal("699.75")
    done = await client.get_payment(payment_id)
    assert done.status == "refunded" and done.transaction_amount_refunded == Decimal("1000")
    assert [r.amount for r in done.refunds] == [Decimal("300.25"), Decimal("699.75")]
    with pytest.raises(MercadoPagoPermanentError):
        await client.refund(payment_id, None, idempotency_key="r-007-d")


async def test_installments_shapes(client: MercadoPagoClient) -> None:
    options = await client.installments(Decimal("1000"), payment_method_id="visa", issuer_id="1000")
    by_count = {o.installments: o for o in options}
    assert set(by_count) >= {1, 3, 6, 12}
    three = by_count[3]
    assert (three.payment_method_id, three.issuer_id, three.issuer_name) == ("visa", "1000", "Banco Galicia")
    assert three.installment_rate == Decimal("13.92")
    assert three.total_amount == Decimal("1139.2") and three.installment_amount == Decimal("379.73")
    cft = [label for label in three.labels if label.startswith("CFT_")]
    assert len(cft) == 1 and "|TEA_" in cft[0] and cft[0].endswith("%")
    assert three.recommended_message == "3 cuotas de $ 379,73 ($ 1.139,20)"
    assert by_count[1].total_amount == Decimal("1000") and "CFT_0,00%|TEA_0,00%" in by_count[1].labels

    every = await client.installments(Decimal("1000"))
    assert {o.payment_method_id for o in every} >= {"visa", "master", "amex", "naranja"}
    naranja = [o for o in every if o.payment_method_id == "naranja" and o.installments == 3]
    assert naranja and not any(label.startswith("CFT_") for label in naranja[0].labels)  # compute our own
    small = await client.installments(Decimal("50"), payment_method_id="visa")
    assert {o.installments for o in small} == {1}
    with pytest.raises(MercadoPagoPermanentError):
        await client.installments(Decimal("0"))


async def test_chargeback_after_a_dispute(client: MercadoPagoClient, mp: RunningMercadoPagoSandbox) -> None:
    pref = await client.create_preference(_request("pay-008"), idempotency_key="k-008")
    payment_id = pay_preference(mp, pref.id)["id"]
    mp.sandbox.set_payment_status(payment_id, "in_mediation")
    [opened] = mp.sandbox.chargebacks(payment_id)
    chargeback = await client.get_chargeback(opened["id"])
    assert chargeback.payment_id == str(payment_id) and chargeback.status == "open"
    assert chargeback.amount == Decimal("48600.5")
    assert chargeback.date_documentation_deadline is not None
    assert chargeback.date_documentation_deadline > datetime.now(UTC)
    mp.sandbox.set_payment_status(payment_id, "charged_back")
    assert (await client.get_chargeback(opened["id"])).status == "lost"
    assert (await client.get_payment(str(payment_id))).status == "charged_back"
    with pytest.raises(MercadoPagoNotFound):
        await client.get_chargeback("424242")


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_5xx_and_429_are_transient(client: MercadoPagoClient, mp: RunningMercadoPagoSandbox, status: int) -> None:
    mp.sandbox.set_switches(fail_next=2, fail_status=status)
    with pytest.raises(MercadoPagoTransientError) as caught:
        await client.get_payment("1")
    assert caught.value.status == status and caught.value.transient
    with pytest.raises(MercadoPagoTransientError) as caught:  # the SDK path too
        await client.create_preference(_request("pay-009"), idempotency_key=f"k-009-{status}")
    assert caught.value.status == status
    pref = await client.create_preference(_request("pay-009"), idempotency_key=f"k-009-{status}")  # back again
    assert pref.id


async def test_timeouts_and_refused_connections_are_transient(mp: RunningMercadoPagoSandbox) -> None:
    mp.sandbox.set_switches(api_delay_seconds=1.5)
    async with MercadoPagoClient(MP_ACCESS_TOKEN, api_base=mp.url, timeout=0.3) as slow:
        with pytest.raises(MercadoPagoTransientError):
            await slow.get_payment("1")
        with pytest.raises(MercadoPagoTransientError):
            await slow.create_preference(_request("pay-010"), idempotency_key="k-010")
    mp.sandbox.set_switches(api_delay_seconds=0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with MercadoPagoClient(MP_ACCESS_TOKEN, api_base=dead, timeout=2) as nowhere:
        with pytest.raises(MercadoPagoTransientError):
            await nowhere.installments(Decimal("100"))
        with pytest.raises(MercadoPagoTransientError):
            await nowhere.create_preference(_request("pay-010"), idempotency_key="k-010")


# -- OAuth ------------------------------------------------------------------------------------------------
def test_authorization_url() -> None:
    oauth = MercadoPagoOAuth(MP_CLIENT_ID, MP_CLIENT_SECRET, api_base="https://api.mercadopago.com")
    url = oauth.authorization_url("st-123", "https://app.example/mp/callback?org=1")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "auth.mercadopago.com", "/authorization")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "client_id": MP_CLIENT_ID,
        "response_type": "code",
        "platform_id": "mp",
        "state": "st-123",
        "redirect_uri": "https://app.example/mp/callback?org=1",
    }
    assert MP_CLIENT_SECRET not in url and MP_CLIENT_SECRET not in repr(oauth)


async def _authorize(mp: RunningMercadoPagoSandbox, oauth: MercadoPagoOAuth, redirect: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(oauth.authorization_url("st-xyz", redirect))
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert location.geturl().startswith(redirect)
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def test_oauth_code_exchange_and_refresh_rotation(mp: RunningMercadoPagoSandbox) -> None:
    oauth = MercadoPagoOAuth(MP_CLIENT_ID, MP_CLIENT_SECRET, api_base=mp.url, auth_base=mp.url)
    redirect = "http://127.0.0.1:9/mp/callback"
    back = await _authorize(mp, oauth, redirect)
    assert back["state"] == "st-xyz"
    tokens = await oauth.exchange_code(back["code"], redirect)
    assert tokens.refresh_token and tokens.expires_in >= 180 * 86400 - 1 and tokens.user_id
    assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)
    with pytest.raises(MercadoPagoPermanentError):  # a code works once
        await oauth.exchange_code(back["code"], redirect)

    rotated = await oauth.refresh(tokens.refresh_token)
    assert rotated.refresh_token != tokens.refresh_token and rotated.user_id == tokens.user_id
    with pytest.raises(MercadoPagoPermanentError) as caught:  # the old refresh token stopped working
        await oauth.refresh(tokens.refresh_token)
    assert caught.value.status == 400

    # the seller's token creates links in the seller's account
    async with MercadoPagoClient(rotated.access_token, api_base=mp.url) as seller:
        pref = await seller.create_preference(_request("pay-011"), idempotency_key="k-011")
    assert str(mp.sandbox.preference(pref.id)["collector_id"]) == tokens.user_id
    # and another account cannot read that seller's payments
    payment_id = str(pay_preference(mp, pref.id)["id"])
    async with MercadoPagoClient(MP_ACCESS_TOKEN, api_base=mp.url) as platform:
        with pytest.raises(MercadoPagoNotFound):
            await platform.get_payment(payment_id)


async def test_oauth_refusals(mp: RunningMercadoPagoSandbox) -> None:
    redirect = "http://127.0.0.1:9/mp/callback"
    good = MercadoPagoOAuth(MP_CLIENT_ID, MP_CLIENT_SECRET, api_base=mp.url, auth_base=mp.url)
    back = await _authorize(mp, good, redirect)
    wrong_secret = MercadoPagoOAuth(MP_CLIENT_ID, "not-the-secret", api_base=mp.url, auth_base=mp.url)
    with pytest.raises(MercadoPagoPermanentError) as caught:
        await wrong_secret.exchange_code(back["code"], redirect)
    assert caught.value.status == 401
    with pytest.raises(MercadoPagoPermanentError) as caught:  # another redirect_uri than the one authorised
        await good.exchange_code(back["code"], "http://127.0.0.1:9/elsewhere")
    assert caught.value.status == 400
