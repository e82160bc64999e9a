"""Mercado Pago REST client for one seller account (its access token).

Preferences (Checkout Pro links) go through the official ``mercadopago`` SDK, as the integration
requires: the SDK is synchronous (``requests``), so each call runs in ``asyncio.to_thread``; it is
pointed at ``api_base`` through its supported extension point, a custom ``HttpClient`` (the SDK's
``Config.api_base_url`` is a fixed class constant). Its own retries are switched off: callers retry
through the queue with the typed errors below.

Every other call (payments, search, refunds, installments, chargebacks) uses ``httpx.AsyncClient``
directly: native async (no thread per call), one connection pool reused across calls (the SDK opens a
new ``requests.Session`` per request), and precise timeout / transport error types.

Failures: ``MercadoPagoTransientError`` (network, timeout, 5xx, 429), ``MercadoPagoNotFound`` (404),
``MercadoPagoPermanentError`` (other 4xx, unusable answers). Nothing here logs the access token.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import mercadopago
import requests
from mercadopago.config import RequestOptions
from mercadopago.http import HttpClient

from server.integrations.mercadopago.errors import (
    MercadoPagoError,
    MercadoPagoNotFound,
    MercadoPagoPermanentError,
    MercadoPagoTransientError,
)
from server.lib.logging import get_logger

log = get_logger("campotech.mercadopago")

DEFAULT_API_BASE = "https://api.mercadopago.com"
_SDK_BASE = "https://api.mercadopago.com"  # what the SDK prefixes every path with

# Mercado Pago still honours notification_url on preferences (per-link webhooks); the SDK warns about it
warnings.filterwarnings("ignore", message="notification_url is deprecated", category=DeprecationWarning)


# -- wire shapes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreferenceItem:
    id: str
    title: str
    quantity: int
    unit_price: Decimal
    description: str = ""
    currency_id: str = "ARS"


@dataclass(frozen=True)
class PreferenceRequest:
    items: tuple[PreferenceItem, ...]
    external_reference: str
    notification_url: str | None
    back_urls: dict[str, str] | None = None
    max_installments: int | None = None
    expires_at: datetime | None = None
    payer_email: str | None = None
    statement_descriptor: str | None = None


@dataclass(frozen=True)
class Preference:
    id: str
    init_point: str
    sandbox_init_point: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class MpRefund:
    id: str
    amount: Decimal
    status: str
    date_created: datetime | None


@dataclass(frozen=True)
class MpPayment:
    id: str
    status: str
    status_detail: str | None
    external_reference: str | None
    transaction_amount: Decimal
    currency_id: str
    installments: int
    payment_method_id: str | None
    payment_type_id: str | None
    date_created: datetime | None
    date_approved: datetime | None
    date_last_updated: datetime | None
    refunds: tuple[MpRefund, ...]
    transaction_amount_refunded: Decimal
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class InstallmentOption:
    payment_method_id: str
    issuer_id: str | None
    issuer_name: str | None
    installments: int
    installment_rate: Decimal
    installment_amount: Decimal
    total_amount: Decimal
    labels: tuple[str, ...]
    recommended_message: str | None


@dataclass(frozen=True)
class MpChargeback:
    id: str
    payment_id: str
    status: str
    amount: Decimal
    date_documentation_deadline: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)


# -- lenient parsing (real bodies vary: numbers or strings, null, "") ------------------------------
def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_decimal(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("0")


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def format_datetime(value: datetime) -> str:
    """Mercado Pago's date format: ``2026-01-31T23:59:59.000-03:00`` (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="milliseconds")


def _amount(value: Decimal) -> float | int:
    # JSON numbers; Mercado Pago takes at most two decimals
    quantized = value.quantize(Decimal("0.01"))
    return int(quantized) if quantized == quantized.to_integral_value() else float(quantized)


def parse_refund(body: dict[str, Any]) -> MpRefund:
    return MpRefund(
        id=str(body.get("id", "")),
        amount=parse_decimal(body.get("amount")),
        status=str(body.get("status") or ""),
        date_created=parse_datetime(body.get("date_created")),
    )


def parse_payment(body: dict[str, Any]) -> MpPayment:
    refunds = body.get("refunds") if isinstance(body.get("refunds"), list) else []
    return MpPayment(
        id=str(body.get("id", "")),
        status=str(body.get("status") or ""),
        status_detail=_str_or_none(body.get("status_detail")),
        external_reference=_str_or_none(body.get("external_reference")),
        transaction_amount=parse_decimal(body.get("transaction_amount")),
        currency_id=str(body.get("currency_id") or "ARS"),
        installments=_int(body.get("installments"), 1),
        payment_method_id=_str_or_none(body.get("payment_method_id")),
        payment_type_id=_str_or_none(body.get("payment_type_id")),
        date_created=parse_datetime(body.get("date_created")),
        date_approved=parse_datetime(body.get("date_approved")),
        date_last_updated=parse_datetime(body.get("date_last_updated")),
        refunds=tuple(parse_refund(r) for r in refunds if isinstance(r, dict)),
        transaction_amount_refunded=parse_decimal(body.get("transaction_amount_refunded")),
        raw=body,
    )


def parse_chargeback(body: dict[str, Any]) -> MpChargeback:
    payments = body.get("payments") if isinstance(body.get("payments"), list) else []
    payment_id = body.get("payment_id") or (payments[0] if payments else "")
    status = body.get("status") or body.get("documentation_status") or ""
    return MpChargeback(
        id=str(body.get("id", "")),
        payment_id=str(payment_id),
        status=str(status),
        amount=parse_decimal(body.get("amount")),
        date_documentation_deadline=parse_datetime(body.get("date_documentation_deadline")),
        raw=body,
    )


def parse_installments(body: Any) -> list[InstallmentOption]:
    options: list[InstallmentOption] = []
    for method in body if isinstance(body, list) else []:
        if not isinstance(method, dict):
            continue
        issuer = method.get("issuer") if isinstance(method.get("issuer"), dict) else {}
        for cost in method.get("payer_costs") or []:
            if not isinstance(cost, dict):
                continue
            labels = cost.get("labels") if isinstance(cost.get("labels"), list) else []
            options.append(
                InstallmentOption(
                    payment_method_id=str(method.get("payment_method_id") or ""),
                    issuer_id=_str_or_none(issuer.get("id")),
                    issuer_name=_str_or_none(issuer.get("name")),
                    installments=_int(cost.get("installments"), 1),
                    installment_rate=parse_decimal(cost.get("installment_rate")),
                    installment_amount=parse_decimal(cost.get("installment_amount")),
                    total_amount=parse_decimal(cost.get("total_amount")),
                    labels=tuple(str(label) for label in labels),
                    recommended_message=_str_or_none(cost.get("recommended_message")),
                )
            )
    return options


def preference_body(req: PreferenceRequest) -> dict[str, Any]:
    """The Checkout Pro body for ``req`` (items, external_reference, installments, expiry, …)."""
    if not req.items:
        raise ValueError("a preference needs at least one item")
    body: dict[str, Any] = {
        "items": [
            {
                "id": item.id,
                "title": item.title[:256],
                "description": item.description[:256],
                "quantity": item.quantity,
                "currency_id": item.currency_id,
                "unit_price": _amount(item.unit_price),
            }
            for item in req.items
        ],
        "external_reference": req.external_reference,
    }
    if req.notification_url:
        body["notification_url"] = req.notification_url
    if req.back_urls:
        body["back_urls"] = dict(req.back_urls)
        if req.back_urls.get("success"):
            body["auto_return"] = "approved"
    if req.max_installments is not None:
        body["payment_methods"] = {"installments": req.max_installments}
    if req.expires_at is not None:
        body["expires"] = True
        body["expiration_date_to"] = format_datetime(req.expires_at)
    if req.payer_email:
        body["payer"] = {"email": req.payer_email}
    if req.statement_descriptor:
        body["statement_descriptor"] = req.statement_descriptor[:22]
    return body


# -- errors -----------------------------------------------------------------------------------------
def _error_code(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    causes = body.get("cause")
    if isinstance(causes, list) and causes and isinstance(causes[0], dict) and causes[0].get("code") is not None:
        return str(causes[0]["code"])
    error = body.get("error")
    return str(error) if error else None


def error_for(status: int, body: Any, what: str) -> MercadoPagoError:
    """The typed error for an HTTP answer ``status`` with JSON ``body`` (Mercado Pago's message kept short)."""
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("message") or body.get("error") or "")[:200]
    message = f"Mercado Pago answered {status} to {what}" + (f": {detail}" if detail else "")
    code = _error_code(body)
    if status == 404:
        return MercadoPagoNotFound(message, status=status, code=code)
    if status == 429 or status >= 500:
        return MercadoPagoTransientError(message, status=status, code=code)
    return MercadoPagoPermanentError(message, status=status, code=code)


class _BaseUrlHttpClient(HttpClient):
    """The SDK's transport, sending to ``api_base`` instead of the production host; no SDK retries."""

    def __init__(self, api_base: str) -> None:
        self.api_base = api_base.rstrip("/")

    def request(self, method, url, maxretries=None, retry_on=None, backoff_factor=None, **kwargs):  # type: ignore[override]
        if url.startswith(_SDK_BASE):
            url = self.api_base + url[len(_SDK_BASE) :]
        with requests.Session() as session:
            answer = session.request(method, url, **kwargs)
        body = None
        if answer.status_code != 204 and answer.content:
            try:
                body = answer.json()
            except ValueError:
                body = None
        return {"status": answer.status_code, "response": body}


class MercadoPagoClient:
    """One seller account. ``aclose()`` (or ``async with``) releases the connection pool."""

    def __init__(self, access_token: str, *, api_base: str = DEFAULT_API_BASE, timeout: float = 10.0) -> None:
        if not access_token:
            raise ValueError("a Mercado Pago access token is required")
        self.api_base = api_base.rstrip("/")
        self.timeout = float(timeout)
        self._access_token = access_token
        self._sdk = mercadopago.SDK(
            access_token,
            http_client=_BaseUrlHttpClient(self.api_base),
            request_options=RequestOptions(connection_timeout=self.timeout, max_retries=0),
        )
        self._http = httpx.AsyncClient(
            base_url=self.api_base,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )

    def __repr__(self) -> str:  # never the token
        return f"MercadoPagoClient(api_base={self.api_base!r})"

    async def __aenter__(self) -> MercadoPagoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- preferences (SDK) --------------------------------------------------------------------------
    async def create_preference(self, req: PreferenceRequest, *, idempotency_key: str) -> Preference:
        """Create a Checkout Pro preference; the same ``idempotency_key`` (1–64 chars) gives back the same one."""
        if not 1 <= len(idempotency_key) <= 64:
            raise ValueError("the idempotency key must be 1-64 characters")
        body = preference_body(req)
        options = RequestOptions(
            access_token=self._access_token,
            connection_timeout=self.timeout,
            max_retries=0,
            custom_headers={"x-idempotency-key": idempotency_key},
        )
        try:
            result = await asyncio.to_thread(self._sdk.preference().create, body, options)
        except requests.Timeout:
            log.warning("mercadopago preference timed out", external_reference=req.external_reference)
            raise MercadoPagoTransientError("Mercado Pago did not answer in time (preference)") from None
        except requests.RequestException as exc:
            log.warning("mercadopago preference connection failed", error=type(exc).__name__)
            raise MercadoPagoTransientError(f"could not reach Mercado Pago ({type(exc).__name__})") from None
        status = int(result.get("status", 0))
        answer = result.get("response")
        if not 200 <= status < 300:
            error = error_for(status, answer, "the preference")
            log.warning("mercadopago preference refused", status=status, code=error.code, transient=error.transient)
            raise error
        if not isinstance(answer, dict) or not answer.get("id") or not answer.get("init_point"):
            raise MercadoPagoPermanentError("Mercado Pago answered a preference without id / init_point", status=status)
        log.info(
            "mercadopago preference created", preference_id=answer["id"], external_reference=req.external_reference
        )
        return Preference(
            id=str(answer["id"]),
            init_point=str(answer["init_point"]),
            sandbox_init_point=_str_or_none(answer.get("sandbox_init_point")),
            expires_at=parse_datetime(answer.get("expiration_date_to")) if answer.get("expires") else None,
        )

    # -- the rest (httpx) ---------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = await self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException:
            log.warning("mercadopago call timed out", what=what)
            raise MercadoPagoTransientError(f"Mercado Pago did not answer in time ({what})") from None
        except httpx.TransportError as exc:
            log.warning("mercadopago call failed to connect", what=what, error=type(exc).__name__)
            raise MercadoPagoTransientError(f"could not reach Mercado Pago ({type(exc).__name__})") from None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 300:
            error = error_for(response.status_code, body, what)
            log.warning(
                "mercadopago call refused",
                what=what,
                status=response.status_code,
                code=error.code,
                transient=error.transient,
            )
            raise error
        if body is None:
            if response.status_code >= 500:
                raise MercadoPagoTransientError(f"Mercado Pago answered no JSON ({what})", status=response.status_code)
            raise MercadoPagoPermanentError(f"Mercado Pago answered no JSON ({what})", status=response.status_code)
        return body

    async def get_payment(self, payment_id: str) -> MpPayment:
        body = await self._call("GET", f"/v1/payments/{_segment(payment_id)}", "the payment")
        if not isinstance(body, dict):
            raise MercadoPagoPermanentError("Mercado Pago answered a payment that is not an object")
        return parse_payment(body)

    async def search_payments(
        self,
        *,
        external_reference: str | None = None,
        begin_date: datetime | None = None,
        end_date: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
        range_field: str = "date_last_updated",
    ) -> tuple[list[MpPayment], int]:
        """One page of the account's payments (oldest first) and the total; dates filter ``range_field``
        (``date_last_updated`` by default, so refunds and disputes of older payments show up too)."""
        params: dict[str, Any] = {
            "sort": "date_created",
            "criteria": "asc",
            "offset": max(offset, 0),
            "limit": min(max(limit, 1), 1000),
        }
        if external_reference is not None:
            params["external_reference"] = external_reference
        if begin_date is not None or end_date is not None:
            params["range"] = range_field
            params["begin_date"] = format_datetime(begin_date) if begin_date else "NOW-30DAYS"
            params["end_date"] = format_datetime(end_date) if end_date else "NOW"
        body = await self._call("GET", "/v1/payments/search", "the payment search", params=params)
        results = body.get("results") if isinstance(body, dict) else None
        paging = body.get("paging") if isinstance(body, dict) and isinstance(body.get("paging"), dict) else {}
        payments = [parse_payment(r) for r in results or [] if isinstance(r, dict)]
        return payments, _int(paging.get("total"), len(payments))

    async def refund(self, payment_id: str, amount: Decimal | None, *, idempotency_key: str) -> MpRefund:
        """Refund ``amount`` (``None`` = everything left) of an approved payment; over-refunds are refused (4xx)."""
        if not 1 <= len(idempotency_key) <= 64:
            raise ValueError("the idempotency key must be 1-64 characters")
        if amount is not None and amount <= 0:
            raise ValueError("a refund amount must be positive")
        body = await self._call(
            "POST",
            f"/v1/payments/{_segment(payment_id)}/refunds",
            "the refund",
            json=None if amount is None else {"amount": _amount(amount)},
            headers={"x-idempotency-key": idempotency_key},
        )
        if not isinstance(body, dict) or body.get("id") is None:
            raise MercadoPagoPermanentError("Mercado Pago answered a refund without id")
        log.info("mercadopago refund", payment_id=str(payment_id), refund_id=str(body["id"]), status=body.get("status"))
        return parse_refund(body)

    async def installments(
        self, amount: Decimal, *, payment_method_id: str | None = None, issuer_id: str | None = None
    ) -> list[InstallmentOption]:
        """The cuotas Mercado Pago offers for ``amount``, one option per method / issuer / count."""
        params: dict[str, Any] = {"amount": str(amount.quantize(Decimal("0.01")))}
        if payment_method_id:
            params["payment_method_id"] = payment_method_id
        if issuer_id:
            params["issuer.id"] = issuer_id
        body = await self._call("GET", "/v1/payment_methods/installments", "the installments", params=params)
        return parse_installments(body)

    async def get_chargeback(self, chargeback_id: str) -> MpChargeback:
        body = await self._call("GET", f"/v1/chargebacks/{_segment(chargeback_id)}", "the chargeback")
        if not isinstance(body, dict):
            raise MercadoPagoPermanentError("Mercado Pago answered a chargeback that is not an object")
        return parse_chargeback(body)


def _segment(value: str) -> str:
    from urllib.parse import quote

    text = str(value).strip()
    if not text:
        raise MercadoPagoNotFound("empty Mercado Pago id", status=None)
    return quote(text, safe="")
