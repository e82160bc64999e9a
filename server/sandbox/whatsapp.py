"""A WhatsApp Business Cloud API stand-in on 127.0.0.1: the send endpoint, as Meta speaks it.

- ``POST /{version}/{phone_number_id}/messages`` checks the Bearer token (401, code 190), the phone
  number id (400, code 100), the payload shape (400, code 100 / 131008 / 132000), then records the message
  and answers ``{"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid.…"}]}``.
- ``GET /_sandbox/messages?to=549…`` lists what was "delivered" (all messages without ``to``);
  ``DELETE /_sandbox/messages`` forgets them.
- ``POST /_sandbox/failures`` ``{"count": N, "status": 500, "code": 131000}`` makes the next N sends fail
  with that HTTP status and Meta error code (``code`` optional); ``DELETE`` clears pending failures.

A plain ASGI app (no framework, no logging set-up), so it can run in-process behind
``httpx.ASGITransport`` or on a real port with uvicorn: ``start_whatsapp_sandbox(host, port)``.
The same controls are methods of ``WhatsAppSandbox`` for tests in the same process.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from server.sandbox.serving import ThreadedAsgiServer, receive_request, send_response

DEFAULT_ACCESS_TOKEN = "sandbox-whatsapp-token"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"

_SEND_PATH = re.compile(r"^/(v\d+\.\d+)/([^/]+)/messages/?$")
_DIGITS = re.compile(r"^\d{8,15}$")

# Meta's titles for the codes the sandbox answers by itself or is commonly told to inject
_TITLES = {
    2: "Service temporarily unavailable",
    4: "Application request limit reached",
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    130429: "Rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
}


@dataclass
class SentMessage:
    id: str
    phone_number_id: str
    api_version: str
    to: str
    type: str
    template_name: str | None
    language_code: str | None
    body_params: list[str]
    button_params: list[str]
    payload: dict[str, Any]
    timestamp: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phone_number_id": self.phone_number_id,
            "api_version": self.api_version,
            "to": self.to,
            "type": self.type,
            "template": self.template_name,
            "language": self.language_code,
            "body_params": self.body_params,
            "button_params": self.button_params,
            "payload": self.payload,
            "timestamp": str(int(self.timestamp)),
        }


class _PayloadError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _meta_error(code: int, message: str, *, kind: str = "OAuthException") -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": kind,
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "sandbox" + secrets.token_hex(8),
        }
    }


def _text_params(component: dict[str, Any]) -> list[str]:
    params = component.get("parameters", [])
    if not isinstance(params, list):
        raise _PayloadError(100, "Param template['components'][n]['parameters'] must be a list")
    out: list[str] = []
    for param in params:
        if not isinstance(param, dict) or param.get("type") != "text" or not isinstance(param.get("text"), str):
            raise _PayloadError(100, "each parameter must be {'type': 'text', 'text': <string>}")
        if not param["text"].strip():
            raise _PayloadError(131008, "a text parameter is empty")
        out.append(param["text"])
    return out


class WhatsAppSandbox:
    """The ASGI app and its state (thread-safe: uvicorn serves it in another thread)."""

    def __init__(
        self,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        phone_number_ids: tuple[str, ...] = (DEFAULT_PHONE_NUMBER_ID,),
    ) -> None:
        self.access_token = access_token
        self.phone_number_ids = phone_number_ids
        self._lock = threading.Lock()
        self._messages: list[SentMessage] = []
        self._failures: deque[tuple[int, int | None, str | None]] = deque()
        self.requests = 0  # every send attempt, failed ones included

    # -- controls ----------------------------------------------------------------------------
    def fail_next(self, count: int = 1, status: int = 500, code: int | None = None, message: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, code, message)] * count)

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def messages(self, to: str | None = None) -> list[SentMessage]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to.lstrip("+")]

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self.requests = 0

    # -- ASGI -------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await receive_request(scope, receive, send)
        if body is None:
            return
        status, answer = self.handle(scope["method"], scope["path"], scope.get("query_string", b""), scope, body)
        await send_response(send, status, json.dumps(answer).encode(), b"application/json")

    def handle(
        self, method: str, path: str, query: bytes, scope: dict[str, Any], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if path.rstrip("/") == "/_sandbox/messages":
            if method == "GET":
                to = parse_qs(query.decode()).get("to", [None])[0]
                return 200, {"messages": [m.as_dict() for m in self.messages(to)]}
            if method == "DELETE":
                self.reset()
                return 200, {"ok": True}
        if path.rstrip("/") == "/_sandbox/failures":
            if method == "POST":
                try:
                    spec = json.loads(body or b"{}")
                    self.fail_next(
                        int(spec.get("count", 1)),
                        int(spec.get("status", 500)),
                        None if spec.get("code") is None else int(spec["code"]),
                        spec.get("message"),
                    )
                except (ValueError, TypeError, AttributeError):
                    return 400, {"error": "expected {count, status, code?, message?}"}
                return 200, {"ok": True}
            if method == "DELETE":
                self.clear_failures()
                return 200, {"ok": True}
        match = _SEND_PATH.match(path)
        if match is None:
            return 404, _meta_error(100, f"Unknown path components: {path}", kind="GraphMethodException")
        if method != "POST":
            return 400, _meta_error(100, f"Unsupported {method} request.", kind="GraphMethodException")
        return self._send(match.group(1), match.group(2), scope, body)

    def _send(
        self, version: str, phone_number_id: str, scope: dict[str, Any], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        with self._lock:
            self.requests += 1
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), self.access_token.encode()):
            return 401, _meta_error(190, "Invalid OAuth access token - Cannot parse access token")
        if phone_number_id not in self.phone_number_ids:
            return 400, _meta_error(
                100,
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist",
                kind="GraphMethodException",
            )
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            status, code, message = failure
            if code is None:
                return status, {"error": {"message": message or "sandbox: injected failure", "type": "Sandbox"}}
            return status, _meta_error(code, message or _TITLES.get(code, "sandbox: injected failure"))
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise _PayloadError(100, "the body must be a JSON object")
            sent = self._parse(version, phone_number_id, payload)
        except ValueError:
            return 400, _meta_error(100, "the body is not valid JSON")
        except _PayloadError as exc:
            return 400, _meta_error(exc.code, f"{_TITLES.get(exc.code, 'Invalid parameter')}: {exc.detail}")
        with self._lock:
            self._messages.append(sent)
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": sent.to, "wa_id": sent.to}],
            "messages": [{"id": sent.id}],
        }
        if sent.type == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return 200, answer

    def _parse(self, version: str, phone_number_id: str, payload: dict[str, Any]) -> SentMessage:
        if payload.get("messaging_product") != "whatsapp":
            raise _PayloadError(100, "messaging_product must be 'whatsapp'")
        if payload.get("recipient_type", "individual") != "individual":
            raise _PayloadError(100, "recipient_type must be 'individual'")
        to = payload.get("to")
        if not isinstance(to, str) or not _DIGITS.match(to):
            raise _PayloadError(100, "'to' must be the recipient's number in digits (country code first, no '+')")
        kind = payload.get("type", "text")
        template_name = language = None
        body_params: list[str] = []
        button_params: list[str] = []
        if kind == "template":
            template = payload.get("template")
            if not isinstance(template, dict):
                raise _PayloadError(131008, "template is required for type 'template'")
            template_name = template.get("name")
            if not isinstance(template_name, str) or not template_name:
                raise _PayloadError(131008, "template['name'] is required")
            lang = template.get("language")
            language = lang.get("code") if isinstance(lang, dict) else None
            if not isinstance(language, str) or not language:
                raise _PayloadError(131008, "template['language']['code'] is required")
            components = template.get("components", [])
            if not isinstance(components, list):
                raise _PayloadError(100, "template['components'] must be a list")
            for component in components:
                ctype = component.get("type") if isinstance(component, dict) else None
                if ctype == "body":
                    body_params.extend(_text_params(component))
                elif ctype == "button":
                    if component.get("sub_type") not in {"url", "quick_reply", "copy_code"}:
                        raise _PayloadError(100, "a button component needs sub_type url, quick_reply or copy_code")
                    if str(component.get("index", "")) not in {str(i) for i in range(10)}:
                        raise _PayloadError(100, "a button component needs an index 0-9")
                    button_params.extend(_text_params(component))
                elif ctype == "header":
                    continue
                else:
                    raise _PayloadError(100, f"unknown component type {ctype!r}")
        elif kind == "text":
            text = payload.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
                raise _PayloadError(131008, "text['body'] is required for type 'text'")
            body_params = [text["body"]]
        else:
            raise _PayloadError(100, f"the sandbox does not send messages of type {kind!r}")
        return SentMessage(
            id="wamid.SANDBOX" + secrets.token_hex(16).upper(),
            phone_number_id=phone_number_id,
            api_version=version,
            to=to,
            type=kind,
            template_name=template_name,
            language_code=language,
            body_params=body_params,
            button_params=button_params,
            payload=payload,
        )


class RunningWhatsAppSandbox(ThreadedAsgiServer):
    """A sandbox served by uvicorn in a background thread; ``stop()`` (or ``with``) ends it."""

    def __init__(self, sandbox: WhatsAppSandbox, host: str, port: int) -> None:
        self.sandbox = sandbox
        super().__init__(sandbox, host, port, name="whatsapp-sandbox", label="the WhatsApp sandbox")


def start_whatsapp_sandbox(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    access_token: str = DEFAULT_ACCESS_TOKEN,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
) -> RunningWhatsAppSandbox:
    """Serve a fresh sandbox on ``host:port`` (a free port below 32768 when not given); returns once listening.

    Point the app at it with ``CAMPOTECH_OTP_DELIVERY=whatsapp``, ``CAMPOTECH_WHATSAPP_API_BASE=<url>``,
    ``CAMPOTECH_WHATSAPP_PHONE_NUMBER_ID=<phone_number_id>``, ``CAMPOTECH_WHATSAPP_ACCESS_TOKEN=<access_token>``.
    """
    if port is None:
        from server.embedded import free_port

        port = free_port()
    sandbox = WhatsAppSandbox(access_token=access_token, phone_number_ids=(phone_number_id,))
    return RunningWhatsAppSandbox(sandbox, host, port).start()
