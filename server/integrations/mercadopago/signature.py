"""Mercado Pago webhook signatures (``x-signature: ts=<ts>,v1=<hex>``).

The manifest is ``id:<data.id>;request-id:<x-request-id>;ts:<ts>;`` where ``data.id`` comes from the
notification's query string (lower-cased when alphanumeric) and a missing part is left out. ``v1`` is the
hex HMAC-SHA256 of the manifest with the application's webhook secret, compared in constant time.
``ts`` is accepted in seconds (10 digits) or milliseconds (13 digits) when checking staleness; the
manifest always carries it exactly as the header did.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

Reason = Literal["missing", "malformed", "stale", "mismatch"]

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class InvalidWebhookSignature(Exception):
    """The notification cannot be trusted; ``reason`` is one of missing, malformed, stale, mismatch."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"invalid Mercado Pago webhook signature: {reason}")
        self.reason: Reason = reason


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def manifest(*, data_id: str | None, request_id: str | None, ts: str) -> str:
    """The signed text; parts that are missing are left out."""
    parts = []
    data_id = _clean(data_id)
    request_id = _clean(request_id)
    if data_id is not None:
        parts.append(f"id:{data_id.lower() if data_id.isalnum() else data_id};")
    if request_id is not None:
        parts.append(f"request-id:{request_id};")
    parts.append(f"ts:{ts};")
    return "".join(parts)


def _digest(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign_webhook(*, data_id: str | None, request_id: str | None, ts: int | str, secret: str) -> str:
    """The ``x-signature`` header value Mercado Pago would send (used by the sandbox and tests)."""
    ts_text = str(ts)
    return f"ts={ts_text},v1={_digest(secret, manifest(data_id=data_id, request_id=request_id, ts=ts_text))}"


def _parse(header: str) -> tuple[str | None, str | None]:
    ts = v1 = None
    for part in header.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "ts":
            ts = value.strip()
        elif key == "v1":
            v1 = value.strip()
    return ts, v1


def timestamp_seconds(ts: str) -> float:
    """``ts`` as Unix seconds: 10 digits are seconds, 13 are milliseconds."""
    if not ts.isdigit() or len(ts) not in (10, 13):
        raise InvalidWebhookSignature("malformed")
    return int(ts) / 1000 if len(ts) == 13 else float(int(ts))


def verify_webhook_signature(
    *,
    x_signature: str | None,
    x_request_id: str | None,
    data_id: str | None,
    secret: str,
    now: float,
    tolerance_seconds: int = 300,
) -> None:
    """Return if the notification was signed with ``secret`` within ``tolerance_seconds`` of ``now``.

    Raises ``InvalidWebhookSignature`` with reason ``missing`` (no header), ``malformed`` (no ts / v1, or
    not a 10/13-digit ts or 64-hex v1), ``mismatch`` (wrong HMAC) or ``stale`` (valid, but too old or
    too far in the future). Nothing secret goes into the exception.
    """
    if not secret:
        raise ValueError("the webhook secret is required")
    header = _clean(x_signature)
    if header is None:
        raise InvalidWebhookSignature("missing")
    ts, v1 = _parse(header)
    if not ts or not v1 or not _HEX64.match(v1):
        raise InvalidWebhookSignature("malformed")
    sent_at = timestamp_seconds(ts)
    expected = _digest(secret, manifest(data_id=data_id, request_id=x_request_id, ts=ts))
    if not hmac.compare_digest(expected.encode(), v1.lower().encode()):
        raise InvalidWebhookSignature("mismatch")
    if abs(now - sent_at) > tolerance_seconds:
        raise InvalidWebhookSignature("stale")
