"""WhatsApp Business Cloud API client: template messages (``POST /{version}/{phone-number-id}/messages``).

Failures are typed so callers can decide whether to retry:

- ``WhatsAppTransientError``: timeouts and connection failures, HTTP 5xx and 429, and Meta's rate and
  availability codes (130429 throughput, 131056 pair rate, 4 / 80007 app and account rate limits,
  2 / 133004 service unavailable). Retrying later may succeed.
- ``WhatsAppPermanentError``: every other 4xx (bad token 190, invalid parameter 100, template problems
  132xxx, recipient problems 131026/131030, …) and unusable answers. Retrying the same request will not help.

Both carry the HTTP status and the Meta error code. Nothing here logs or puts in an exception the access
token or the parameters of a message (an OTP code travels as a parameter); recipients are masked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx

from server.lib.logging import get_logger
from server.lib.redaction import redact_text
from shared.phones import InvalidPhone, mask_phone, normalize_phone

log = get_logger("campotech.whatsapp")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# Meta error codes worth retrying later (rate limits and temporary unavailability)
TRANSIENT_META_CODES = frozenset({2, 4, 80007, 130429, 131056, 133004})
RATE_LIMIT_CODE = 130429
PAIR_RATE_LIMIT_CODE = 131056

_VERSION = re.compile(r"^v\d+\.\d+$")


class WhatsAppError(Exception):
    """A send that did not succeed; ``meta_code`` is Meta's ``error.code`` when the API answered one."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        meta_code: int | None = None,
        meta_subcode: int | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.meta_code = meta_code
        self.meta_subcode = meta_subcode
        self.fbtrace_id = fbtrace_id


class WhatsAppTransientError(WhatsAppError):
    """Timeouts, 5xx, rate limits: worth retrying later."""

    transient = True


class WhatsAppPermanentError(WhatsAppError):
    """The request itself is refused (credentials, parameters, template, recipient): do not retry as is."""


def whatsapp_recipient(phone: str) -> str:
    """The ``to`` field: E.164 digits without ``+``; Argentine mobiles in the ``549…`` form."""
    try:
        e164 = normalize_phone(phone, mobile=True)
    except InvalidPhone as exc:
        raise WhatsAppPermanentError(f"not a phone number WhatsApp can reach: {exc.problem.value}") from None
    return e164.lstrip("+")


def template_payload(
    to: str,
    template_name: str,
    language_code: str,
    body_params: Sequence[str],
    button_params: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The Cloud API body of a template message (body parameters; URL / copy-code button at index 0)."""
    components: list[dict[str, Any]] = []
    if body_params:
        components.append({"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in body_params]})
    if button_params:
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": str(p)} for p in button_params],
            }
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": template_name,
            "language": {"policy": "deterministic", "code": language_code},
            "components": components,
        },
    }


class WhatsAppClient:
    """One business phone number's sending side. ``http`` may be shared; otherwise one client per call."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        if not _VERSION.match(api_version):
            raise ValueError(f"WhatsApp API version must look like v21.0, got {api_version!r}")
        if not phone_number_id or not access_token:
            raise ValueError("a WhatsApp phone number id and access token are required")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.phone_number_id = phone_number_id
        self._access_token = access_token
        self._http = http
        self._timeout = timeout

    def __repr__(self) -> str:  # never the token
        return f"WhatsAppClient({self.base_url!r}, {self.api_version!r}, {self.phone_number_id!r})"

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/{self.api_version}/{self.phone_number_id}/messages"

    async def send_template(
        self,
        to_e164: str,
        template_name: str,
        language_code: str,
        body_params: Sequence[str],
        button_params: Sequence[str] | None = None,
    ) -> str:
        """Send an approved template; returns the message id (``wamid…``) or raises ``WhatsAppError``."""
        to = whatsapp_recipient(to_e164)
        payload = template_payload(to, template_name, language_code, body_params, button_params)
        masked = mask_phone("+" + to)
        try:
            response = await self._post(payload)
        except httpx.TimeoutException:
            log.warning("whatsapp send timed out", template=template_name, to=masked)
            raise WhatsAppTransientError("WhatsApp Cloud API did not answer in time") from None
        except httpx.TransportError as exc:
            log.warning("whatsapp send failed to connect", template=template_name, to=masked, error=type(exc).__name__)
            raise WhatsAppTransientError(f"could not reach the WhatsApp Cloud API ({type(exc).__name__})") from None
        if response.status_code >= 300:
            error = _classify(response)
            log.warning(
                "whatsapp send refused",
                template=template_name,
                to=masked,
                status=error.status,
                meta_error=error.meta_code,
                transient=error.transient,
                fbtrace_id=error.fbtrace_id,
            )
            raise error
        message_id = _message_id(response)
        if message_id is None:
            raise WhatsAppPermanentError(
                "WhatsApp Cloud API answered without a message id", status=response.status_code
            )
        log.info("whatsapp template sent", template=template_name, to=masked, message_id=message_id)
        return message_id

    async def _post(self, payload: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._access_token}"}
        if self._http is not None:
            return await self._http.post(self.messages_url, json=payload, headers=headers, timeout=self._timeout)
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            return await http.post(self.messages_url, json=payload, headers=headers)


def _message_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
        message_id = body["messages"][0]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return message_id if isinstance(message_id, str) and message_id else None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _classify(response: httpx.Response) -> WhatsAppError:
    status = response.status_code
    error: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
    except ValueError:
        pass
    meta_code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    trace = error.get("fbtrace_id") if isinstance(error.get("fbtrace_id"), str) else None
    # Meta's own text, redacted (it may quote the recipient); never the request
    detail = str(error.get("message") or error.get("error_user_msg") or response.reason_phrase or "")[:300]
    message = f"WhatsApp Cloud API answered {status}"
    if meta_code is not None:
        message += f" (code {meta_code})"
    if detail:
        message += f": {redact_text(detail)}"
    transient = status >= 500 or status == 429 or meta_code in TRANSIENT_META_CODES
    cls = WhatsAppTransientError if transient else WhatsAppPermanentError
    return cls(message, status=status, meta_code=meta_code, meta_subcode=subcode, fbtrace_id=trace)
