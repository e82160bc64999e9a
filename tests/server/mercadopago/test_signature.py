"""Webhook signatures: the manifest of the spec, HMAC-SHA256, staleness in seconds or milliseconds."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from mercadopago.webhook.validator import WebhookSignatureValidator

from server.integrations.mercadopago.signature import InvalidWebhookSignature, sign_webhook, verify_webhook_signature

SECRET = "your_secret"
REQUEST_ID = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"
TS_MS = "1742505638683"
NOW = 1742505638.683


def _hex(text: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _reason(**kw: object) -> str:
    with pytest.raises(InvalidWebhookSignature) as caught:
        verify_webhook_signature(**kw)  # type: ignore[arg-type]
    return caught.value.reason


def test_the_spec_manifest_verifies() -> None:
    header = f"ts={TS_MS},v1={_hex(f'id:123456;request-id:{REQUEST_ID};ts:{TS_MS};')}"
    verify_webhook_signature(x_signature=header, x_request_id=REQUEST_ID, data_id="123456", secret=SECRET, now=NOW)
    # what the sandbox sends is that same header
    assert sign_webhook(data_id="123456", request_id=REQUEST_ID, ts=TS_MS, secret=SECRET) == header


def test_an_alphanumeric_data_id_is_lowercased_in_the_manifest() -> None:
    header = f"ts={TS_MS},v1={_hex(f'id:abc123def;request-id:{REQUEST_ID};ts:{TS_MS};')}"
    verify_webhook_signature(x_signature=header, x_request_id=REQUEST_ID, data_id="ABC123DEF", secret=SECRET, now=NOW)


def test_spaces_and_order_in_the_header_do_not_matter() -> None:
    digest = _hex(f"id:42;request-id:{REQUEST_ID};ts:{TS_MS};")
    header = f" v1={digest} , ts={TS_MS} "
    verify_webhook_signature(x_signature=header, x_request_id=REQUEST_ID, data_id="42", secret=SECRET, now=NOW)


def test_wrong_secret_or_tampered_parts_are_a_mismatch() -> None:
    header = sign_webhook(data_id="123456", request_id=REQUEST_ID, ts=TS_MS, secret=SECRET)
    base = {"x_signature": header, "x_request_id": REQUEST_ID, "data_id": "123456", "now": NOW}
    assert _reason(**base, secret="another-secret") == "mismatch"
    assert _reason(**{**base, "data_id": "123457"}, secret=SECRET) == "mismatch"
    assert _reason(**{**base, "x_request_id": "other-request"}, secret=SECRET) == "mismatch"
    tampered_ts = header.replace(f"ts={TS_MS}", f"ts={int(TS_MS) + 1}")
    assert _reason(**{**base, "x_signature": tampered_ts}, secret=SECRET) == "mismatch"


def test_old_or_future_timestamps_are_stale() -> None:
    header = sign_webhook(data_id="1", request_id=REQUEST_ID, ts=TS_MS, secret=SECRET)
    kw = {"x_signature": header, "x_request_id": REQUEST_ID, "data_id": "1", "secret": SECRET}
    verify_webhook_signature(**kw, now=NOW + 299)
    assert _reason(**kw, now=NOW + 301) == "stale"
    assert _reason(**kw, now=NOW - 301) == "stale"
    assert _reason(**kw, now=NOW + 61, tolerance_seconds=60) == "stale"


def test_seconds_and_milliseconds_are_both_accepted() -> None:
    seconds = str(int(NOW))
    for ts in (seconds, TS_MS):
        header = sign_webhook(data_id="77", request_id=REQUEST_ID, ts=ts, secret=SECRET)
        verify_webhook_signature(x_signature=header, x_request_id=REQUEST_ID, data_id="77", secret=SECRET, now=NOW)
    # a millisecond ts read as seconds would be ~55,000 years ahead; an old seconds ts stays stale
    old = sign_webhook(data_id="77", request_id=REQUEST_ID, ts=str(int(NOW) - 3600), secret=SECRET)
    assert _reason(x_signature=old, x_request_id=REQUEST_ID, data_id="77", secret=SECRET, now=NOW) == "stale"


def test_the_sdk_validator_agrees_on_a_seconds_signature() -> None:
    seconds = str(int(NOW))
    header = sign_webhook(data_id="123456", request_id=REQUEST_ID, ts=seconds, secret=SECRET)
    WebhookSignatureValidator.validate(header, REQUEST_ID, "123456", SECRET)  # raises if it disagrees


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        (f"ts={TS_MS}", "malformed"),
        (f"v1={'a' * 64}", "malformed"),
        (f"ts=abc,v1={'a' * 64}", "malformed"),
        (f"ts=17425056386,v1={'a' * 64}", "malformed"),  # 11 digits: neither seconds nor ms
        (f"ts={TS_MS},v1=not-hex", "malformed"),
        ("garbage", "malformed"),
    ],
)
def test_missing_or_malformed_headers(header: str | None, reason: str) -> None:
    assert _reason(x_signature=header, x_request_id=REQUEST_ID, data_id="1", secret=SECRET, now=NOW) == reason


def test_missing_parts_are_left_out_of_the_manifest() -> None:
    no_request = f"ts={TS_MS},v1={_hex(f'id:99;ts:{TS_MS};')}"
    verify_webhook_signature(x_signature=no_request, x_request_id=None, data_id="99", secret=SECRET, now=NOW)
    no_id = f"ts={TS_MS},v1={_hex(f'request-id:{REQUEST_ID};ts:{TS_MS};')}"
    verify_webhook_signature(x_signature=no_id, x_request_id=REQUEST_ID, data_id=None, secret=SECRET, now=NOW)
    verify_webhook_signature(x_signature=no_id, x_request_id=REQUEST_ID, data_id="  ", secret=SECRET, now=NOW)
    # signed with the request id, delivered without it: not the same manifest
    full = sign_webhook(data_id="99", request_id=REQUEST_ID, ts=TS_MS, secret=SECRET)
    assert _reason(x_signature=full, x_request_id=None, data_id="99", secret=SECRET, now=NOW) == "mismatch"


def test_the_reason_never_carries_the_secret() -> None:
    header = sign_webhook(data_id="5", request_id=REQUEST_ID, ts=TS_MS, secret=SECRET)
    with pytest.raises(InvalidWebhookSignature) as caught:
        verify_webhook_signature(x_signature=header, x_request_id=REQUEST_ID, data_id="5", secret="x", now=NOW)
    assert caught.value.reason == "mismatch"
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.args)
