"""A Mercado Pago stand-in on 127.0.0.1: OAuth, Checkout Pro preferences, payments, refunds,
installments, chargebacks, and signed webhooks, as the real API speaks them (same paths, same shapes).

API (Bearer access token: the sandbox's own ``access_token`` or one issued by ``/oauth/token``):

- ``GET /authorization?client_id=&response_type=code&state=&redirect_uri=`` → 302 to
  ``redirect_uri?code=TG-…&state=…`` (a new seller account each time unless ``user_id=`` is given);
- ``POST /oauth/token`` (JSON or form) ``grant_type=authorization_code`` (code once, same redirect_uri)
  or ``grant_type=refresh_token`` (rotates: the old refresh token stops working);
- ``POST /checkout/preferences`` (validated; ``x-idempotency-key`` gives back the same preference),
  ``GET /checkout/preferences/{id}``; ``GET /checkout/v1/redirect?pref_id=`` a Spanish checkout page
  whose buttons pay the preference (for trying it in ``campotech dev``);
- ``GET /v1/payments/{id}``, ``GET /v1/payments/search`` (external_reference, status, range, begin_date,
  end_date — ISO or ``NOW-1DAYS`` —, sort, criteria, offset, limit);
- ``POST /v1/payments/{id}/refunds`` (no body / ``{}`` = all that is left, ``{"amount"}`` = partial;
  more than what is left → 400; ``x-idempotency-key`` replays);
- ``GET /v1/payment_methods/installments?amount=&payment_method_id=|bin=&issuer.id=`` (a few cards and
  issuers; labels ``CFT_x,xx%|TEA_y,yy%`` computed by ``shared.payments.installments.financing_costs``;
  Naranja answers without CFT/TEA labels, like some real issuers);
- ``GET /v1/chargebacks/{id}``.

Controls (also methods of ``MercadoPagoSandbox``):

- ``POST /_sandbox/preferences/{id}/pay`` ``{"status": "approved"|"rejected"|"pending"|"in_process",
  "installments": 3, "amount": optional, "payment_method_id": "visa"}`` → the payment (201), and a
  signed ``payment.created`` webhook to the preference's ``notification_url`` (or the sandbox's);
- ``POST /_sandbox/payments/{id}/status`` ``{"status": "in_mediation"|"charged_back"|"refunded"|…}``
  → ``payment.updated`` webhook (and a ``chargebacks`` one when a dispute opens or ends);
- ``POST /_sandbox/switches`` ``{"duplicates": n, "reorder": bool, "bad_signature": bool,
  "delay_seconds": s, "fail_next": n, "fail_status": 500, "api_delay_seconds": s, "ts_seconds": bool,
  "notification_url": url}``; ``GET`` shows them, ``DELETE`` resets them;
- ``GET /_sandbox/webhooks`` what was sent (headers, body) and the answers; ``DELETE`` forgets;
  ``POST /_sandbox/webhooks/flush`` releases webhooks held by ``reorder`` (newest first);
- ``GET /_sandbox/payments`` every payment.

Webhooks leave from one background thread (httpx), in order, each retried on non-2xx / connection
failure ``webhook_retries`` times with a short backoff (Mercado Pago retries for about a day).
``duplicates`` sends each notification 1+n times (fresh ``x-request-id`` each); ``reorder`` holds them
until ``flush()`` (or until reorder is switched off) and then sends them newest first; ``bad_signature``
signs with a wrong secret; ``delay_seconds`` waits before each delivery; ``fail_next`` makes the next n
API calls answer ``fail_status``; ``api_delay_seconds`` makes API answers slow (client timeouts).
A plain ASGI app: ``start_mercadopago_sandbox(host, port, webhook_secret=…, client_id=…, client_secret=…)``.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import queue
import re
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlencode

from server.integrations.mercadopago.signature import sign_webhook
from server.sandbox.serving import ThreadedAsgiServer, receive_request, send_response
from shared.payments.installments import financing_costs

DEFAULT_ACCESS_TOKEN = "TEST-sandbox-mercadopago-access-token"
DEFAULT_USER_ID = 100000001
DEFAULT_WEBHOOK_SECRET = "sandbox-mercadopago-webhook-secret"
DEFAULT_CLIENT_ID = "1000000000000001"
DEFAULT_CLIENT_SECRET = "sandbox-mercadopago-client-secret"

ART = timezone(timedelta(hours=-3))
TOKEN_LIFETIME = 15_552_000  # 180 days, like Mercado Pago's
CODE_LIFETIME = 600.0
PAYMENT_STATUSES = frozenset(
    {
        "pending",
        "approved",
        "authorized",
        "in_process",
        "in_mediation",
        "rejected",
        "cancelled",
        "refunded",
        "charged_back",
    }
)
PAY_STATUSES = frozenset({"approved", "rejected", "pending", "in_process", "authorized"})
_STATUS_DETAIL = {
    "approved": "accredited",
    "authorized": "pending_capture",
    "rejected": "cc_rejected_insufficient_amount",
    "pending": "pending_waiting_payment",
    "in_process": "pending_contingency",
    "in_mediation": "in_mediation",
    "cancelled": "by_collector",
    "refunded": "refunded",
    "charged_back": "settled",
}
_PAYMENT_TYPES = {
    "visa": "credit_card",
    "master": "credit_card",
    "amex": "credit_card",
    "naranja": "credit_card",
    "debvisa": "debit_card",
    "debmaster": "debit_card",
    "account_money": "account_money",
    "pagofacil": "ticket",
    "rapipago": "ticket",
}
_API_PREFIXES = ("/v1/", "/checkout/preferences", "/oauth/token")

# card → issuers → {installments: installment_rate}; labels=False: the issuer sends no CFT/TEA labels
_INSTALLMENT_PLANS: dict[str, list[dict[str, Any]]] = {
    "visa": [
        {"id": "1000", "name": "Banco Galicia", "rates": {1: 0, 3: 13.92, 6: 27.45, 12: 58.63}, "labels": True},
        {"id": "1001", "name": "Banco Santander", "rates": {1: 0, 3: 0, 6: 25.10, 9: 39.70, 12: 55.20}, "labels": True},
    ],
    "master": [
        {"id": "1002", "name": "Banco Nación", "rates": {1: 0, 3: 14.50, 6: 28.90, 12: 60.10}, "labels": True},
    ],
    "amex": [
        {"id": "310", "name": "American Express", "rates": {1: 0, 3: 15.20, 6: 29.80}, "labels": True},
    ],
    "naranja": [
        {"id": "688", "name": "Tarjeta Naranja", "rates": {1: 0, 3: 12.50, 6: 26.00}, "labels": False},
    ],
}
_BINS = {"450995": "visa", "489412": "visa", "503175": "master", "542878": "master", "371180": "amex"}
_MIN_FOR_INSTALLMENTS = Decimal("100")
_MAX_AMOUNT = Decimal("5000000")
_CENT = Decimal("0.01")


# -- money and the CFT / TEA labels -------------------------------------------------------------------
def _dec(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("not a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not result.is_finite():
        raise ValueError("not a number")
    return result


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _num(value: Decimal) -> int | float:
    value = _money(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _ars(value: Decimal) -> str:
    """``$ 1.139,20``"""
    whole, _, cents = f"{_money(value):.2f}".partition(".")
    return f"$ {int(whole):,}".replace(",", ".") + f",{cents}"


def _pct(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",") + "%"


def installment_label(amount: Decimal, total: Decimal, installments: int) -> str:
    no_interest = (Decimal("0.00"), Decimal("0.00"))
    cft, tea = financing_costs(amount, installments, total) if total > amount else no_interest
    return f"CFT_{_pct(cft)}|TEA_{_pct(tea)}"


# -- small helpers ------------------------------------------------------------------------------------
def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, ART).isoformat(timespec="milliseconds")


def _parse_when(text: str, now: float) -> float:
    text = text.strip()
    match = re.fullmatch(r"NOW(?:([+-])(\d+)(MINUTES|HOURS|DAYS|MONTHS))?", text, re.IGNORECASE)
    if match:
        if not match.group(1):
            return now
        unit = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400, "MONTHS": 30 * 86400}[match.group(3).upper()]
        delta = int(match.group(2)) * unit
        return now + delta if match.group(1) == "+" else now - delta
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ART)
    return parsed.timestamp()


def _ts_of(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


class _Refusal(Exception):
    def __init__(self, status: int, message: str, error: str = "bad_request", cause: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.cause = cause


def _mp_error(status: int, message: str, error: str, cause: str | None = None) -> dict[str, Any]:
    causes = [{"code": cause, "description": message}] if cause else []
    return {"message": message, "error": error, "status": status, "cause": causes}


@dataclass
class Reply:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, str | bytes):
            return self.body.encode() if isinstance(self.body, str) else self.body
        return json.dumps(self.body).encode()


@dataclass
class Switches:
    duplicates: int = 0
    reorder: bool = False
    bad_signature: bool = False
    delay_seconds: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    api_delay_seconds: float = 0.0
    ts_seconds: bool = False
    notification_url: str | None = None


@dataclass
class _Outgoing:
    url: str
    topic: str
    action: str
    data_id: str
    user_id: int
    notification_id: int
    duplicate: bool = False


class MercadoPagoSandbox:
    """The ASGI app and its state (thread-safe: uvicorn serves it in another thread)."""

    def __init__(
        self,
        *,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        user_id: int = DEFAULT_USER_ID,
        public_url: str = "http://127.0.0.1",
        webhook_retries: int = 3,
        retry_backoff: float = 0.2,
        webhook_timeout: float = 5.0,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token = access_token
        self.user_id = user_id
        self.public_url = public_url.rstrip("/")
        self.webhook_retries = webhook_retries
        self.retry_backoff = retry_backoff
        self.webhook_timeout = webhook_timeout
        self.switches = Switches()
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._ids = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1_300_000_000_000)
        self._tokens: dict[str, int] = {access_token: user_id}
        self._refresh_tokens: dict[str, int] = {}
        self._codes: dict[str, tuple[str, int, float]] = {}  # code → (redirect_uri, user_id, expires)
        self._preferences: dict[str, dict[str, Any]] = {}
        self._preference_keys: dict[tuple[int, str], str] = {}
        self._payments: dict[int, dict[str, Any]] = {}
        self._refund_keys: dict[tuple[int, str], dict[str, Any]] = {}
        self._chargebacks: dict[str, dict[str, Any]] = {}
        self._webhooks: list[dict[str, Any]] = []
        self._held: list[_Outgoing] = []
        self._pending = 0  # notifications queued or being delivered
        self._queue: queue.Queue[_Outgoing | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.requests = 0  # API calls (controls excluded)

    # -- controls (methods) -----------------------------------------------------------------------
    def set_switches(self, **changes: Any) -> Switches:
        """Change some switches (names of ``Switches``); turning ``reorder`` off releases held webhooks."""
        release = False
        with self._lock:
            for name, value in changes.items():
                if name not in Switches.__dataclass_fields__:
                    raise ValueError(f"unknown switch {name!r}")
                current = getattr(self.switches, name)
                if name == "notification_url":
                    if value is not None and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
                        raise ValueError("notification_url must be an http(s) URL or null")
                elif isinstance(current, bool):
                    if not isinstance(value, bool):
                        raise ValueError(f"{name} must be true or false")
                    release = release or (name == "reorder" and current and not value)
                elif isinstance(current, int):
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise ValueError(f"{name} must be a whole number ≥ 0")
                    if name == "fail_status" and not 400 <= value <= 599:
                        raise ValueError("fail_status must be an HTTP error status (400-599)")
                else:
                    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                        raise ValueError(f"{name} must be a number ≥ 0")
                    value = float(value)
                setattr(self.switches, name, value)
            switches = Switches(**asdict(self.switches))
        if release:
            self.flush()
        return switches

    def reset_switches(self) -> None:
        with self._lock:
            held = bool(self._held)
            self.switches = Switches(notification_url=self.switches.notification_url)
        if held:
            self.flush()

    def flush(self) -> int:
        """Send the webhooks held by ``reorder``, newest first; returns how many."""
        with self._lock:
            held, self._held = self._held, []
            for out in reversed(held):
                self._enqueue(out)
        return len(held)

    def webhooks(self) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._webhooks))

    def clear_webhooks(self) -> None:
        with self._lock:
            self._webhooks.clear()

    def wait_for_webhooks(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until every queued webhook was delivered (or gave up); returns the log."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} Mercado Pago webhooks still pending")
                self._idle.wait(left)
        return self.webhooks()

    async def await_webhooks(self, within: float = 10.0) -> list[dict[str, Any]]:
        """``wait_for_webhooks`` for async tests whose receiver (the app) runs in the same event loop."""
        return await asyncio.to_thread(self.wait_for_webhooks, within)

    def dump(self) -> dict[str, Any]:
        """What the sandbox remembers (tokens, preferences, payments, chargebacks) as JSON-able data, so
        ``campotech dev`` can keep connected accounts and links across restarts (``load`` puts it back)."""
        with self._lock:
            return json.loads(
                json.dumps(
                    {
                        "tokens": self._tokens,
                        "refresh_tokens": self._refresh_tokens,
                        "preferences": self._preferences,
                        "preference_keys": [[u, k, p] for (u, k), p in self._preference_keys.items()],
                        "payments": list(self._payments.values()),
                        "refund_keys": [[p, k, r] for (p, k), r in self._refund_keys.items()],
                        "chargebacks": self._chargebacks,
                        "next_id": next(self._ids),
                    }
                )
            )

    def load(self, state: dict[str, Any]) -> None:
        with self._lock:
            self._tokens.update({str(t): int(u) for t, u in state.get("tokens", {}).items()})
            self._refresh_tokens.update({str(t): int(u) for t, u in state.get("refresh_tokens", {}).items()})
            self._preferences.update(state.get("preferences", {}))
            self._preference_keys.update({(int(u), str(k)): str(p) for u, k, p in state.get("preference_keys", [])})
            self._payments.update({int(p["id"]): p for p in state.get("payments", [])})
            self._refund_keys.update({(int(p), str(k)): r for p, k, r in state.get("refund_keys", [])})
            self._chargebacks.update(state.get("chargebacks", {}))
            self._ids = itertools.count(max(int(state.get("next_id", 0)), next(self._ids)))

    def payments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for p in self._payments.values()]

    def payment(self, payment_id: int | str) -> dict[str, Any]:
        with self._lock:
            found = self._payments.get(int(payment_id))
            if found is None:
                raise KeyError(payment_id)
            return json.loads(json.dumps(found))

    def preference(self, preference_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._preferences[preference_id])

    def chargebacks(self, payment_id: int | str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(c) for c in self._chargebacks.values() if payment_id is None or int(payment_id) in c["payments"]
            ]

    def authorize(self, redirect_uri: str, user_id: int | None = None) -> str:
        """What ``GET /authorization`` does once the seller accepts: a one-time code for ``redirect_uri``."""
        code = "TG-" + secrets.token_hex(12)
        with self._lock:
            seller = user_id if user_id is not None else next(self._ids) % 1_000_000_000
            self._codes[code] = (redirect_uri, seller, time.time() + CODE_LIFETIME)
        return code

    def pay(
        self,
        preference_id: str,
        *,
        status: str = "approved",
        installments: int = 1,
        amount: Any = None,
        payment_method_id: str = "visa",
        status_detail: str | None = None,
    ) -> dict[str, Any]:
        """Pay a preference as a buyer would: the payment, then a signed ``payment.created`` webhook."""
        if not isinstance(status, str) or status not in PAY_STATUSES:
            raise _Refusal(400, f"status must be one of {sorted(PAY_STATUSES)}")
        if isinstance(installments, bool) or not isinstance(installments, int) or not 1 <= installments <= 36:
            raise _Refusal(400, "installments must be a whole number 1-36")
        if not isinstance(payment_method_id, str) or payment_method_id not in _PAYMENT_TYPES:
            raise _Refusal(400, f"payment_method_id must be one of {sorted(_PAYMENT_TYPES)}")
        now = time.time()
        with self._lock:
            pref = self._preferences.get(preference_id)
            if pref is None:
                raise _Refusal(404, "preference not found", "not_found")
            expires = _ts_of(pref.get("expiration_date_to")) if pref.get("expires") else None
            if expires is not None and now > expires:
                raise _Refusal(400, "the preference expired", "bad_request", "preference_expired")
            allowed = (pref.get("payment_methods") or {}).get("installments")
            if allowed is not None and installments > int(allowed):
                raise _Refusal(400, f"this preference allows at most {allowed} installments")
            if amount is None:
                total = sum((_dec(i["unit_price"]) * int(i["quantity"]) for i in pref["items"]), Decimal("0"))
            else:
                try:
                    total = _dec(amount)
                except ValueError:
                    raise _Refusal(400, "amount must be a number") from None
                if total <= 0:
                    raise _Refusal(400, "amount must be positive")
            payment_id = next(self._ids)
            stamp = _iso(now)
            payment: dict[str, Any] = {
                "id": payment_id,
                "date_created": stamp,
                "date_approved": stamp if status == "approved" else None,
                "date_last_updated": stamp,
                "money_release_date": stamp if status == "approved" else None,
                "operation_type": "regular_payment",
                "payment_method_id": payment_method_id,
                "payment_type_id": _PAYMENT_TYPES[payment_method_id],
                "status": status,
                "status_detail": status_detail or _STATUS_DETAIL[status],
                "currency_id": "ARS",
                "description": pref["items"][0]["title"],
                "live_mode": False,
                "collector_id": pref["collector_id"],
                "payer": {"email": (pref.get("payer") or {}).get("email"), "type": "guest"},
                "metadata": {},
                "external_reference": pref.get("external_reference"),
                "preference_id": preference_id,
                "transaction_amount": _num(total),
                "transaction_amount_refunded": 0,
                "installments": installments,
                "transaction_details": {
                    "net_received_amount": _num(total * Decimal("0.9401")) if status == "approved" else 0,
                    "total_paid_amount": _num(total),
                    "installment_amount": _num(total / installments),
                },
                "refunds": [],
                "order": {"id": next(self._ids), "type": "mercadopago"},
                "notification_url": pref.get("notification_url"),
            }
            self._payments[payment_id] = payment
            self._notify(
                "payment", "payment.created", str(payment_id), pref["collector_id"], pref.get("notification_url")
            )
            return json.loads(json.dumps(payment))

    def set_payment_status(
        self, payment_id: int | str, status: str, status_detail: str | None = None
    ) -> dict[str, Any]:
        """Move a payment (dispute, chargeback, refund by the buyer…): ``payment.updated`` webhook; a
        dispute opening, won or lost also sends a ``chargebacks`` webhook."""
        if not isinstance(status, str) or status not in PAYMENT_STATUSES:
            raise _Refusal(400, f"status must be one of {sorted(PAYMENT_STATUSES)}")
        now = time.time()
        with self._lock:
            payment = self._payments.get(int(payment_id))
            if payment is None:
                raise _Refusal(404, "Payment not found", "not_found", "2000")
            previous = payment["status"]
            payment["status"] = status
            payment["status_detail"] = status_detail or _STATUS_DETAIL[status]
            payment["date_last_updated"] = _iso(now)
            if status == "approved" and not payment.get("date_approved"):
                payment["date_approved"] = _iso(now)
            if status == "refunded":
                left = _dec(payment["transaction_amount"]) - _dec(payment["transaction_amount_refunded"])
                if left > 0:
                    payment["refunds"].append(self._refund_record(payment, left, now))
                payment["transaction_amount_refunded"] = payment["transaction_amount"]
            url = payment.get("notification_url")
            user = payment["collector_id"]
            self._notify("payment", "payment.updated", str(payment["id"]), user, url)
            chargeback = self._chargeback_for(payment["id"])
            if status in {"in_mediation", "charged_back"} and chargeback is None:
                chargeback = self._open_chargeback(payment, now)
                chargeback["status"] = "lost" if status == "charged_back" else "open"
                self._notify("chargebacks", "chargeback.created", chargeback["id"], user, url)
            elif chargeback is not None and chargeback["status"] == "open" and status != previous:
                if status == "charged_back":
                    chargeback["status"] = "lost"
                elif status == "approved":
                    chargeback["status"] = "won"
                chargeback["date_last_updated"] = _iso(now)
                self._notify("chargebacks", "chargeback.updated", chargeback["id"], user, url)
            return json.loads(json.dumps(payment))

    # -- internals --------------------------------------------------------------------------------
    def _chargeback_for(self, payment_id: int) -> dict[str, Any] | None:
        for chargeback in self._chargebacks.values():
            if payment_id in chargeback["payments"]:
                return chargeback
        return None

    def _open_chargeback(self, payment: dict[str, Any], now: float) -> dict[str, Any]:
        chargeback_id = str(next(self._ids))
        chargeback = {
            "id": chargeback_id,
            "payments": [payment["id"]],
            "currency": "ARS",
            "amount": payment["transaction_amount"],
            "status": "open",
            "stage": "chargeback",
            "coverage_applied": False,
            "coverage_elegible": True,
            "documentation_required": True,
            "documentation_status": "pending",
            "documentation": [],
            "date_documentation_deadline": _iso(now + 10 * 86400),
            "date_created": _iso(now),
            "date_last_updated": _iso(now),
            "live_mode": False,
            "collector_id": payment["collector_id"],
        }
        self._chargebacks[chargeback_id] = chargeback
        return chargeback

    def _refund_record(self, payment: dict[str, Any], amount: Decimal, now: float) -> dict[str, Any]:
        return {
            "id": next(self._ids),
            "payment_id": payment["id"],
            "amount": _num(amount),
            "metadata": {},
            "source": {"id": str(payment["collector_id"]), "name": "Sandbox", "type": "collector"},
            "date_created": _iso(now),
            "unique_sequence_number": None,
            "refund_mode": "standard",
            "adjustment_amount": 0,
            "status": "approved",
            "reason": None,
        }

    def _notify(self, topic: str, action: str, data_id: str, user_id: int, url: str | None) -> None:
        target = url or self.switches.notification_url
        out = _Outgoing(
            url=target or "",
            topic=topic,
            action=action,
            data_id=data_id,
            user_id=user_id,
            notification_id=next(self._ids),
        )
        if not target:
            self._webhooks.append(self._record(out, None, None, None) | {"error": "no notification_url"})
            return
        copies = [out] + [_Outgoing(**{**asdict(out), "duplicate": True}) for _ in range(self.switches.duplicates)]
        if self.switches.reorder:
            self._held.extend(copies)
            return
        for copy in copies:
            self._enqueue(copy)

    def _enqueue(self, out: _Outgoing) -> None:
        with self._lock:
            self._pending += 1
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._deliver_loop, name="mercadopago-webhooks", daemon=True)
                self._worker.start()
        self._queue.put(out)

    def _record(
        self, out: _Outgoing, request_id: str | None, signature: str | None, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {
            "url": out.url,
            "topic": out.topic,
            "action": out.action,
            "data_id": out.data_id,
            "user_id": out.user_id,
            "notification_id": out.notification_id,
            "duplicate": out.duplicate,
            "request_id": request_id,
            "headers": {"x-signature": signature, "x-request-id": request_id} if signature else {},
            "body": body,
            "bad_signature": False,
            "attempts": [],
            "delivered": False,
        }

    def _deliver_loop(self) -> None:
        import httpx

        with httpx.Client(timeout=self.webhook_timeout) as http:
            while True:
                out = self._queue.get()
                if out is None:
                    return
                try:
                    self._deliver(http, out)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def _deliver(self, http: Any, out: _Outgoing) -> None:
        with self._lock:
            switches = Switches(**asdict(self.switches))
        if switches.delay_seconds:
            time.sleep(switches.delay_seconds)
        request_id = str(uuid.uuid4())
        now = time.time()
        ts = str(int(now)) if switches.ts_seconds else str(int(now * 1000))
        secret = self.webhook_secret + ("-wrong" if switches.bad_signature else "")
        signature = sign_webhook(data_id=out.data_id, request_id=request_id, ts=ts, secret=secret)
        body = {
            "id": out.notification_id,
            "live_mode": False,
            "type": out.topic,
            "date_created": _iso(now),
            "user_id": out.user_id,
            "api_version": "v1",
            "action": out.action,
            "data": {"id": out.data_id},
        }
        record = self._record(out, request_id, signature, body)
        record["bad_signature"] = switches.bad_signature
        with self._lock:
            self._webhooks.append(record)
        separator = "&" if "?" in out.url else "?"
        url = f"{out.url}{separator}{urlencode({'data.id': out.data_id, 'type': out.topic})}"
        headers = {"x-signature": signature, "x-request-id": request_id, "content-type": "application/json"}
        for attempt in range(self.webhook_retries + 1):
            if attempt:
                time.sleep(self.retry_backoff * (2 ** (attempt - 1)))
            try:
                answer = http.post(url, content=json.dumps(body).encode(), headers=headers)
                result: dict[str, Any] = {"status": answer.status_code, "error": None, "at": time.time()}
            except Exception as exc:
                result = {"status": None, "error": type(exc).__name__, "at": time.time()}
            with self._lock:
                record["attempts"].append(result)
                if result["status"] is not None and 200 <= result["status"] < 300:
                    record["delivered"] = True
                    return

    def stop_worker(self) -> None:
        worker = self._worker
        if worker is not None and worker.is_alive():
            self._queue.put(None)
            worker.join(10)

    # -- ASGI -------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await receive_request(scope, receive, send)
        if body is None:
            return
        path: str = scope["path"]
        if path.startswith(_API_PREFIXES) and self.switches.api_delay_seconds:
            await asyncio.sleep(self.switches.api_delay_seconds)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode("latin-1")
        reply = self.handle(scope["method"], path, query, headers, body)
        extra = [(k.encode(), v.encode()) for k, v in reply.headers]
        await send_response(send, reply.status, reply.encoded(), reply.content_type.encode(), extra)

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            if path.startswith("/_sandbox/"):
                return self._control(method, path.rstrip("/"), headers, body)
            if path == "/authorization" and method == "GET":
                return self._authorization(params)
            if path == "/checkout/v1/redirect" and method == "GET":
                return self._checkout_page(params.get("pref_id", ""))
            if path.startswith(_API_PREFIXES):
                with self._lock:
                    self.requests += 1
                    if self.switches.fail_next > 0:
                        self.switches.fail_next -= 1
                        status = self.switches.fail_status
                        return Reply(status, _mp_error(status, "sandbox: injected failure", "internal_error"))
            if path == "/oauth/token" and method == "POST":
                return self._oauth_token(headers, body)
            user = self._bearer(headers)
            return self._api(method, path, params, headers, body, user)
        except _Refusal as exc:
            return Reply(exc.status, _mp_error(exc.status, exc.message, exc.error, exc.cause))
        except Exception as exc:
            return Reply(500, _mp_error(500, f"sandbox error: {type(exc).__name__}", "internal_error"))

    def _bearer(self, headers: dict[str, str]) -> int:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            user = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise _Refusal(401, "invalid access token", "unauthorized")
        return user

    def _api(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: bytes, user: int
    ) -> Reply:
        if path == "/checkout/preferences" and method == "POST":
            return self._create_preference(user, headers, body)
        if (match := re.fullmatch(r"/checkout/preferences/([^/]+)", path)) and method == "GET":
            with self._lock:
                pref = self._preferences.get(match.group(1))
                if pref is None or pref["collector_id"] != user:
                    raise _Refusal(404, "preference not found", "not_found")
                return Reply(200, dict(pref))
        if path == "/v1/payments/search" and method == "GET":
            return self._search(user, params)
        if (match := re.fullmatch(r"/v1/payments/([^/]+)", path)) and method == "GET":
            return Reply(200, self._own_payment(user, match.group(1)))
        if match := re.fullmatch(r"/v1/payments/([^/]+)/refunds", path):
            if method == "POST":
                return self._refund(user, match.group(1), headers, body)
            if method == "GET":
                return Reply(200, self._own_payment(user, match.group(1))["refunds"])
        if path == "/v1/payment_methods/installments" and method == "GET":
            return Reply(200, self._installments(params))
        if (match := re.fullmatch(r"/v1/chargebacks/([^/]+)", path)) and method == "GET":
            with self._lock:
                chargeback = self._chargebacks.get(match.group(1))
                if chargeback is None or chargeback["collector_id"] != user:
                    raise _Refusal(404, "chargeback not found", "not_found")
                return Reply(200, json.loads(json.dumps(chargeback)))
        raise _Refusal(404, f"resource {path} not found", "not_found")

    # -- OAuth ------------------------------------------------------------------------------------
    def _authorization(self, params: dict[str, str]) -> Reply:
        if params.get("client_id") != self.client_id:
            raise _Refusal(400, "invalid client_id", "invalid_client")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            raise _Refusal(400, "redirect_uri must be an http(s) URL", "invalid_request")
        user_id = params.get("user_id")
        code = self.authorize(redirect_uri, int(user_id) if user_id and user_id.isdigit() else None)
        separator = "&" if "?" in redirect_uri else "?"
        answer = {"code": code}
        if params.get("state"):
            answer["state"] = params["state"]
        location = f"{redirect_uri}{separator}{urlencode(answer)}"
        return Reply(302, "", "text/plain", [("location", location)])

    def _oauth_token(self, headers: dict[str, str], body: bytes) -> Reply:
        if "json" in headers.get("content-type", ""):
            try:
                form = json.loads(body or b"{}")
            except ValueError:
                raise _Refusal(400, "the body is not valid JSON", "invalid_request") from None
            if not isinstance(form, dict):
                raise _Refusal(400, "the body must be an object", "invalid_request")
        else:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_ok = str(form.get("client_id", "")) == self.client_id and secrets.compare_digest(
            str(form.get("client_secret", "")).encode(), self.client_secret.encode()
        )
        if not client_ok:
            raise _Refusal(401, "invalid client_id or client_secret", "invalid_client")
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                entry = self._codes.pop(str(form.get("code", "")), None)
                if entry is None or entry[2] < time.time():
                    raise _Refusal(400, "invalid_grant: the code is unknown, used or expired", "invalid_grant")
                if str(form.get("redirect_uri", "")) != entry[0]:
                    raise _Refusal(400, "invalid_grant: redirect_uri does not match", "invalid_grant")
                user = entry[1]
            elif grant == "refresh_token":
                found = self._refresh_tokens.pop(str(form.get("refresh_token", "")), None)
                if found is None:
                    raise _Refusal(400, "invalid_grant: unknown refresh_token", "invalid_grant")
                user = found
            else:
                raise _Refusal(400, "grant_type must be authorization_code or refresh_token", "unsupported_grant_type")
            access = f"APP_USR-{self.client_id}-{secrets.token_hex(8)}-{user}"
            refresh = "TG-" + secrets.token_hex(16)
            self._tokens[access] = user
            self._refresh_tokens[refresh] = user
        return Reply(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "scope": "offline_access payments read write",
                "user_id": user,
                "refresh_token": refresh,
                "public_key": f"APP_USR-{uuid.uuid4()}",
                "live_mode": False,
            },
        )

    # -- preferences ------------------------------------------------------------------------------
    def _create_preference(self, user: int, headers: dict[str, str], body: bytes) -> Reply:
        key = headers.get("x-idempotency-key")
        if key is not None and not 1 <= len(key) <= 64:
            raise _Refusal(400, "x-idempotency-key must be 1-64 characters", "bad_request", "idempotency_key")
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise _Refusal(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _Refusal(400, "the body must be a JSON object")
        with self._lock:
            if key is not None and (user, key) in self._preference_keys:
                return Reply(201, dict(self._preferences[self._preference_keys[(user, key)]]))
        items = self._validate_items(data.get("items"))
        reference = data.get("external_reference")
        if reference is not None and (not isinstance(reference, str | int) or len(str(reference)) > 256):
            raise _Refusal(400, "external_reference must be text of at most 256 characters", cause="external_reference")
        url = data.get("notification_url")
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500
        ):
            raise _Refusal(400, "notification_url must be an http(s) URL", cause="notification_url")
        methods = data.get("payment_methods") or {}
        if not isinstance(methods, dict):
            raise _Refusal(400, "payment_methods must be an object", cause="payment_methods")
        max_installments = methods.get("installments")
        if max_installments is not None and (
            isinstance(max_installments, bool)
            or not isinstance(max_installments, int)
            or not 1 <= max_installments <= 36
        ):
            raise _Refusal(400, "payment_methods.installments must be 1-36", cause="installments")
        expires_to = data.get("expiration_date_to")
        if data.get("expires"):
            try:
                _parse_when(str(expires_to), time.time())
            except ValueError:
                raise _Refusal(400, "expiration_date_to must be an ISO 8601 date", cause="expiration_date_to") from None
        descriptor = data.get("statement_descriptor")
        if descriptor is not None and (not isinstance(descriptor, str) or len(descriptor) > 22):
            raise _Refusal(400, "statement_descriptor must be at most 22 characters", cause="statement_descriptor")
        back_urls = data.get("back_urls") or {}
        if data.get("auto_return") and not (isinstance(back_urls, dict) and back_urls.get("success")):
            raise _Refusal(400, "auto_return invalid. back_url.success must be defined", "invalid_auto_return")
        with self._lock:
            if key is not None and (user, key) in self._preference_keys:  # raced
                return Reply(201, dict(self._preferences[self._preference_keys[(user, key)]]))
            preference_id = f"{user}-{uuid.uuid4()}"
            now = time.time()
            pref = {
                "id": preference_id,
                "collector_id": user,
                "client_id": self.client_id,
                "operation_type": "regular_payment",
                "items": items,
                "payer": data.get("payer") or {},
                "back_urls": back_urls,
                "auto_return": data.get("auto_return") or "",
                "payment_methods": {
                    "excluded_payment_methods": methods.get("excluded_payment_methods") or [],
                    "excluded_payment_types": methods.get("excluded_payment_types") or [],
                    "installments": max_installments,
                },
                "notification_url": url,
                "statement_descriptor": descriptor,
                "external_reference": None if reference is None else str(reference),
                "expires": bool(data.get("expires")),
                "expiration_date_from": data.get("expiration_date_from"),
                "expiration_date_to": (
                    _iso(_parse_when(str(expires_to), now)) if data.get("expires") and expires_to else None
                ),
                "date_created": _iso(now),
                "init_point": f"{self.public_url}/checkout/v1/redirect?pref_id={preference_id}",
                "sandbox_init_point": f"{self.public_url}/checkout/v1/redirect?pref_id={preference_id}&sandbox=1",
                "site_id": "MLA",
                "marketplace": "NONE",
                "marketplace_fee": data.get("marketplace_fee") or 0,
            }
            self._preferences[preference_id] = pref
            if key is not None:
                self._preference_keys[(user, key)] = preference_id
            return Reply(201, dict(pref))

    @staticmethod
    def _validate_items(raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw:
            raise _Refusal(400, "items needed: at least one item", "invalid_items", "items")
        items = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise _Refusal(400, f"items[{index}] must be an object", "invalid_items", "items")
            title = item.get("title")
            if not isinstance(title, str) or not title.strip():
                raise _Refusal(400, f"items[{index}].title is required", "invalid_items", "items.title")
            quantity = item.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise _Refusal(
                    400, f"items[{index}].quantity must be a whole number ≥ 1", "invalid_items", "items.quantity"
                )
            try:
                price = _dec(item.get("unit_price"))
            except ValueError:
                raise _Refusal(
                    400, f"items[{index}].unit_price must be a number", "invalid_items", "items.unit_price"
                ) from None
            if price <= 0:
                raise _Refusal(400, f"items[{index}].unit_price must be positive", "invalid_items", "items.unit_price")
            currency = item.get("currency_id") or "ARS"
            if currency != "ARS":
                raise _Refusal(400, f"items[{index}].currency_id must be ARS", "invalid_items", "items.currency_id")
            items.append(
                {
                    "id": str(item.get("id") or ""),
                    "title": title,
                    "description": str(item.get("description") or ""),
                    "category_id": str(item.get("category_id") or ""),
                    "quantity": quantity,
                    "currency_id": currency,
                    "unit_price": _num(price),
                }
            )
        return items

    # -- payments ---------------------------------------------------------------------------------
    def _own_payment(self, user: int, raw_id: str) -> dict[str, Any]:
        with self._lock:
            payment = self._payments.get(int(raw_id)) if raw_id.isdigit() else None
            if payment is None or payment["collector_id"] != user:
                raise _Refusal(404, "Payment not found", "not_found", "2000")
            return json.loads(json.dumps(payment))

    def _search(self, user: int, params: dict[str, str]) -> Reply:
        now = time.time()
        try:
            offset = int(params.get("offset", "0"))
            limit = int(params.get("limit", "30"))
        except ValueError:
            raise _Refusal(400, "offset and limit must be whole numbers") from None
        if offset < 0 or not 1 <= limit <= 1000:
            raise _Refusal(400, "offset must be ≥ 0 and limit 1-1000")
        range_field = params.get("range", "date_created")
        if range_field not in {"date_created", "date_last_updated", "date_approved", "money_release_date"}:
            raise _Refusal(400, "range must be date_created, date_last_updated, date_approved or money_release_date")
        try:
            begin = _parse_when(params["begin_date"], now) if params.get("begin_date") else None
            end = _parse_when(params["end_date"], now) if params.get("end_date") else None
        except ValueError:
            raise _Refusal(400, "begin_date / end_date must be ISO 8601 dates or NOW-<n>DAYS") from None
        sort = params.get("sort", "date_created")
        if sort not in {"date_created", "date_last_updated", "date_approved", "id"}:
            raise _Refusal(400, "invalid sort")
        descending = params.get("criteria", "desc") == "desc"
        with self._lock:
            found = []
            for payment in self._payments.values():
                if payment["collector_id"] != user:
                    continue
                if "external_reference" in params and payment.get("external_reference") != params["external_reference"]:
                    continue
                if params.get("status") and payment["status"] != params["status"]:
                    continue
                when = _ts_of(payment.get(range_field))
                if (begin is not None or end is not None) and when is None:
                    continue
                if begin is not None and when is not None and when < begin:
                    continue
                if end is not None and when is not None and when > end:
                    continue
                found.append(payment)
            found.sort(key=lambda p: (p.get(sort) or "", p["id"]) if sort != "id" else (p["id"],), reverse=descending)
            page = json.loads(json.dumps(found[offset : offset + limit]))
        return Reply(200, {"paging": {"total": len(found), "limit": limit, "offset": offset}, "results": page})

    def _refund(self, user: int, raw_id: str, headers: dict[str, str], body: bytes) -> Reply:
        key = headers.get("x-idempotency-key")
        if key is not None and not 1 <= len(key) <= 64:
            raise _Refusal(400, "x-idempotency-key must be 1-64 characters", cause="idempotency_key")
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            raise _Refusal(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _Refusal(400, "the body must be a JSON object")
        now = time.time()
        with self._lock:
            payment_view = self._own_payment(user, raw_id)
            payment = self._payments[payment_view["id"]]
            if key is not None and (payment["id"], key) in self._refund_keys:
                return Reply(201, dict(self._refund_keys[(payment["id"], key)]))
            if payment["status"] != "approved":
                raise _Refusal(400, f"Payment not in approved status (status {payment['status']})", cause="2063")
            left = _dec(payment["transaction_amount"]) - _dec(payment["transaction_amount_refunded"])
            if data.get("amount") is None:
                amount = left
            else:
                try:
                    amount = _dec(data["amount"])
                except ValueError:
                    raise _Refusal(400, "amount must be a number", cause="amount") from None
                if amount <= 0:
                    raise _Refusal(400, "amount must be positive", cause="amount")
            if _money(amount) > left:
                raise _Refusal(
                    400,
                    f"The amount to refund ({_num(amount)}) exceeds what is left to refund ({_num(left)})",
                    "bad_request",
                    "2085",
                )
            refund = self._refund_record(payment, amount, now)
            payment["refunds"].append(refund)
            refunded = _dec(payment["transaction_amount_refunded"]) + _money(amount)
            payment["transaction_amount_refunded"] = _num(refunded)
            payment["date_last_updated"] = _iso(now)
            if refunded >= _dec(payment["transaction_amount"]):
                payment["status"], payment["status_detail"] = "refunded", "refunded"
            else:
                payment["status_detail"] = "partially_refunded"
            if key is not None:
                self._refund_keys[(payment["id"], key)] = refund
            self._notify("payment", "payment.updated", str(payment["id"]), user, payment.get("notification_url"))
            return Reply(201, dict(refund))

    # -- installments -----------------------------------------------------------------------------
    def _installments(self, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            amount = _dec(params.get("amount", ""))
        except ValueError:
            raise _Refusal(400, "amount is required and must be a number", cause="amount") from None
        if amount <= 0 or amount > _MAX_AMOUNT:
            raise _Refusal(400, f"amount must be between 0 and {_MAX_AMOUNT}", cause="amount")
        amount = _money(amount)
        method = params.get("payment_method_id")
        if not method and params.get("bin"):
            method = _BINS.get(params["bin"][:6])
            if method is None:
                return []
        issuer_id = params.get("issuer.id")
        answer = []
        for method_id, issuers in _INSTALLMENT_PLANS.items():
            if method and method != method_id:
                continue
            for issuer in issuers:
                if issuer_id and issuer_id != issuer["id"]:
                    continue
                costs = []
                for count, rate in issuer["rates"].items():
                    if count > 1 and amount < _MIN_FOR_INSTALLMENTS:
                        continue
                    total = _money(amount * (1 + Decimal(str(rate)) / 100))
                    each = _money(total / count)
                    labels = ["recommended_installment"] if count == 1 else []
                    if issuer["labels"]:
                        labels.append(installment_label(amount, total, count))
                    word = "cuota" if count == 1 else "cuotas"
                    message = (
                        f"{count} {word} de {_ars(each)} ({_ars(total)})"
                        if rate or count == 1
                        else f"{count} cuotas de {_ars(each)} sin interés"
                    )
                    costs.append(
                        {
                            "installments": count,
                            "installment_rate": rate,
                            "discount_rate": 0,
                            "reimbursement_rate": None,
                            "labels": labels,
                            "installment_rate_collector": ["MERCADOPAGO"] if rate else ["THIRD_PARTY"],
                            "min_allowed_amount": 2 if count == 1 else _num(_MIN_FOR_INSTALLMENTS),
                            "max_allowed_amount": _num(_MAX_AMOUNT),
                            "recommended_message": message,
                            "installment_amount": _num(each),
                            "total_amount": _num(total),
                            "payment_method_option_id": secrets.token_hex(8),
                        }
                    )
                answer.append(
                    {
                        "payment_method_id": method_id,
                        "payment_type_id": "credit_card",
                        "processing_mode": "aggregator",
                        "merchant_account_id": None,
                        "issuer": {"id": issuer["id"], "name": issuer["name"], "secure_thumbnail": "", "thumbnail": ""},
                        "payer_costs": costs,
                        "agreements": None,
                    }
                )
        return answer

    # -- the checkout page (for trying it by hand) -----------------------------------------------
    def _checkout_page(self, preference_id: str) -> Reply:
        with self._lock:
            pref = self._preferences.get(preference_id)
        if pref is None:
            return Reply(404, "<h1>Link de pago inexistente</h1>", "text/html; charset=utf-8")
        total = sum((_dec(i["unit_price"]) * int(i["quantity"]) for i in pref["items"]), Decimal("0"))
        rows = "".join(
            f"<li>{html.escape(i['title'])} × {i['quantity']}: {_ars(_dec(i['unit_price']))}</li>"
            for i in pref["items"]
        )
        allowed = pref["payment_methods"].get("installments") or 12
        options = "".join(f'<option value="{n}">{n}</option>' for n in (1, 3, 6, 9, 12) if n <= allowed)
        action = f"/_sandbox/preferences/{html.escape(preference_id)}/pay"
        buttons = "".join(
            f'<button name="status" value="{s}">{label}</button> '
            for s, label in (("approved", "Pagar (aprobado)"), ("rejected", "Rechazar"), ("pending", "Dejar pendiente"))
        )
        page = (
            "<!doctype html><html lang='es-AR'><meta charset='utf-8'><title>Mercado Pago (sandbox)</title>"
            f"<h1>Mercado Pago — sandbox</h1><ul>{rows}</ul><p>Total: <b>{_ars(total)}</b></p>"
            f"<form method='post' action='{action}'>Cuotas: <select name='installments'>{options}</select> "
            f"{buttons}</form></html>"
        )
        return Reply(200, page, "text/html; charset=utf-8")

    # -- control endpoints ------------------------------------------------------------------------
    def _control(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        form = "application/x-www-form-urlencoded" in headers.get("content-type", "")
        try:
            if form:
                spec: Any = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
                if "installments" in spec:
                    spec["installments"] = int(spec["installments"])
            else:
                spec = json.loads(body) if body.strip() else {}
        except ValueError:
            raise _Refusal(400, "the body is not valid JSON") from None
        if not isinstance(spec, dict):
            raise _Refusal(400, "the body must be a JSON object")
        if path == "/_sandbox/switches":
            if method == "GET":
                return Reply(200, asdict(self.switches))
            if method == "DELETE":
                self.reset_switches()
                return Reply(200, asdict(self.switches))
            if method == "POST":
                try:
                    return Reply(200, asdict(self.set_switches(**spec)))
                except ValueError as exc:
                    raise _Refusal(400, str(exc)) from None
        if path == "/_sandbox/webhooks":
            if method == "GET":
                return Reply(200, {"webhooks": self.webhooks()})
            if method == "DELETE":
                self.clear_webhooks()
                return Reply(200, {"ok": True})
        if path == "/_sandbox/webhooks/flush" and method == "POST":
            return Reply(200, {"released": self.flush()})
        if path == "/_sandbox/payments" and method == "GET":
            return Reply(200, {"payments": self.payments()})
        if (match := re.fullmatch(r"/_sandbox/preferences/([^/]+)/pay", path)) and method == "POST":
            allowed = {"status", "installments", "amount", "payment_method_id", "status_detail"}
            unknown = set(spec) - allowed
            if unknown:
                raise _Refusal(400, f"unknown fields {sorted(unknown)}")
            payment = self.pay(match.group(1), **spec)
            if form:
                return self._after_checkout(match.group(1), payment)
            return Reply(201, payment)
        if (match := re.fullmatch(r"/_sandbox/payments/([^/]+)/status", path)) and method == "POST":
            if not match.group(1).isdigit() or not isinstance(spec.get("status"), str):
                raise _Refusal(400, "expected {status} for a numeric payment id")
            return Reply(200, self.set_payment_status(match.group(1), spec["status"], spec.get("status_detail")))
        raise _Refusal(404, f"no sandbox control {method} {path}", "not_found")

    def _after_checkout(self, preference_id: str, payment: dict[str, Any]) -> Reply:
        pref = self.preference(preference_id)
        status = payment["status"]
        which = {"approved": "success", "rejected": "failure"}.get(status, "pending")
        target = (pref.get("back_urls") or {}).get(which)
        if target:
            query = {
                "collection_id": payment["id"],
                "collection_status": status,
                "payment_id": payment["id"],
                "status": status,
                "external_reference": payment.get("external_reference") or "null",
                "preference_id": preference_id,
            }
            separator = "&" if "?" in target else "?"
            return Reply(303, "", "text/plain", [("location", f"{target}{separator}{urlencode(query)}")])
        words = {"approved": "aprobado", "rejected": "rechazado"}.get(status, "pendiente")
        return Reply(200, f"<h1>Pago {words}</h1><p>Operación n.º {payment['id']}</p>", "text/html; charset=utf-8")


class RunningMercadoPagoSandbox(ThreadedAsgiServer):
    """A sandbox served by uvicorn in a background thread; ``stop()`` (or ``with``) ends it."""

    def __init__(self, sandbox: MercadoPagoSandbox, host: str, port: int) -> None:
        self.sandbox = sandbox
        super().__init__(sandbox, host, port, name="mercadopago-sandbox", label="the Mercado Pago sandbox")
        sandbox.public_url = self.url

    def stop(self) -> None:
        self.sandbox.stop_worker()
        super().stop()


def start_mercadopago_sandbox(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    access_token: str = DEFAULT_ACCESS_TOKEN,
    notification_url: str | None = None,
) -> RunningMercadoPagoSandbox:
    """Serve a fresh sandbox on ``host:port`` (a free port below 32768 when not given); returns once listening.

    Point the app at it with the sandbox ``url`` as both the API and the auth base; the application's
    client id / secret and webhook secret are the ones given here. ``notification_url`` is where webhooks
    of preferences without one go (Mercado Pago's application-level webhook URL).
    """
    if port is None:
        from server.embedded import free_port

        port = free_port()
    sandbox = MercadoPagoSandbox(
        webhook_secret=webhook_secret, client_id=client_id, client_secret=client_secret, access_token=access_token
    )
    if notification_url:
        sandbox.set_switches(notification_url=notification_url)
    return RunningMercadoPagoSandbox(sandbox, host, port).start()


__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_USER_ID",
    "DEFAULT_WEBHOOK_SECRET",
    "MercadoPagoSandbox",
    "RunningMercadoPagoSandbox",
    "Switches",
    "installment_label",
    "start_mercadopago_sandbox",
]
