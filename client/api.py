"""The typed HTTP client of the CampoTech API (httpx + the msgspec types of ``shared``).

Errors a caller handles:
- ``Offline``: the server could not be reached (connection refused, DNS, timeout, 5xx gateway pages);
- ``AuthExpired``: the session is over (a refresh was tried once and refused): sign in again;
- ``ApiError(code, message, status)``: the server refused the request (4xx) with its stable code and
  Spanish message, shown as is.
Tokens never appear in logs or exception texts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec

from client.i18n import t
from client.sync.wire import BootstrapPage, PullPage, PushRequest, PushResponse
from client.tokens import StoredTokens, TokenStore
from shared.errors import ErrorCode
from shared.schemas.attachments import Photo, Signature, SignatureInput, StrokePoint
from shared.schemas.auth import OtpRequest, OtpSent, OtpVerifyRequest, RefreshRequest, SessionInfo, TokenPair

log = logging.getLogger("campotech.client.api")

API = "/api/v1"
T = TypeVar("T")

OFFLINE_MESSAGE = t("api.offline")


class ClientError(Exception):
    """Base of what the API client raises."""


class Offline(ClientError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(OFFLINE_MESSAGE)
        self.detail = detail
        self.message = OFFLINE_MESSAGE


class AuthExpired(ClientError):
    def __init__(self, code: str = ErrorCode.TOKEN_EXPIRED.value, message: str | None = None) -> None:
        self.code = code
        self.message = message or t("api.session_expired")
        super().__init__(self.message)


class ApiError(ClientError):
    def __init__(self, code: str, message: str, status: int, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    org_id: str
    role: str
    full_name: str
    org_name: str | None = None


def _session_of(tokens: StoredTokens) -> Session:
    return Session(
        user_id=tokens.user_id or "",
        org_id=tokens.org_id or "",
        role=tokens.role or "",
        full_name=tokens.full_name or "",
        org_name=tokens.org_name,
    )


def _stored(pair: TokenPair, previous: StoredTokens | None = None) -> StoredTokens:
    user, org = pair.user, pair.organization
    return StoredTokens(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        session_id=str(pair.session_id) if pair.session_id else (previous.session_id if previous else None),
        user_id=str(user.id) if user else (previous.user_id if previous else None),
        org_id=str(org.id) if org else (previous.org_id if previous else None),
        role=user.role if user else (previous.role if previous else None),
        full_name=user.full_name if user else (previous.full_name if previous else None),
        org_name=org.name if org else (previous.org_name if previous else None),
    )


class ApiClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenStore,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        self._refresh_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- plumbing ------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        auth: bool,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if auth:
            stored = self.tokens.load()
            if stored is None:
                raise AuthExpired(ErrorCode.TOKEN_INVALID.value, t("api.sign_in_required"))
            hdrs["Authorization"] = f"Bearer {stored.access_token}"
        try:
            response = await self._http.request(method, path, content=content, headers=hdrs, params=params)
        except (httpx.TransportError, OSError) as exc:  # connect/read errors, timeouts, DNS
            raise Offline(type(exc).__name__) from None
        if response.status_code in (502, 503, 504):
            raise Offline(f"http {response.status_code}")
        return response

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str | None = None,
        auth: bool = True,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        content = raw
        if body is not None:
            content = msgspec.json.encode(body)
            headers["Content-Type"] = "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        response = await self._send(method, path, auth=auth, content=content, headers=headers, params=params)
        if response.status_code == 401 and auth:
            await self._refresh()
            response = await self._send(method, path, auth=auth, content=content, headers=headers, params=params)
            if response.status_code == 401:
                code, message, _ = self._error_of(response)
                self.tokens.clear()
                raise AuthExpired(code, message)
        if response.status_code >= 400:
            code, message, details = self._error_of(response)
            raise ApiError(code, message, response.status_code, details)
        return response

    @staticmethod
    def _error_of(response: httpx.Response) -> tuple[str, str, Any]:
        try:
            body = response.json()
            return str(body.get("code", "error")), str(body.get("message", "")), body.get("details")
        except ValueError:
            return "http_error", t("api.server_status", status=response.status_code), None

    async def _refresh(self) -> None:
        stored = self.tokens.load()
        if stored is None:
            raise AuthExpired(ErrorCode.TOKEN_INVALID.value, t("api.sign_in_required"))
        async with self._refresh_lock:
            current = self.tokens.load()
            if current is not None and current.access_token != stored.access_token:
                return  # another call refreshed meanwhile
            response = await self._send(
                "POST",
                f"{API}/auth/refresh",
                auth=False,
                content=msgspec.json.encode(RefreshRequest(refresh_token=stored.refresh_token)),
                headers={"Content-Type": "application/json"},
            )
            if response.status_code >= 400:
                code, message, _ = self._error_of(response)
                self.tokens.clear()
                log.info("session refresh refused", extra={"code": code})
                raise AuthExpired(code, message)
            pair = msgspec.json.decode(response.content, type=TokenPair)
            self.tokens.save(_stored(pair, stored))

    @staticmethod
    def _decode(response: httpx.Response, type_: type[T]) -> T:
        return msgspec.json.decode(response.content, type=type_)

    # --- auth ----------------------------------------------------------------------------------

    async def request_otp(self, phone: str) -> OtpSent:
        r = await self._call("POST", f"{API}/auth/otp/request", body=OtpRequest(phone=phone), auth=False)
        return self._decode(r, OtpSent)

    async def verify_otp(self, phone: str, code: str, device_name: str | None = None) -> Session:
        r = await self._call(
            "POST",
            f"{API}/auth/otp/verify",
            body=OtpVerifyRequest(phone=phone, code=code, device_name=device_name),
            auth=False,
        )
        stored = _stored(self._decode(r, TokenPair))
        self.tokens.save(stored)
        return _session_of(stored)

    async def logout(self) -> None:
        """Close the session on the server (best effort) and forget the tokens on the device."""
        try:
            if self.tokens.load() is not None:
                await self._call("POST", f"{API}/auth/logout")
        except (Offline, AuthExpired, ApiError):
            pass
        finally:
            self.tokens.clear()

    def session(self) -> Session | None:
        """The signed-in session as stored on the device (no network)."""
        stored = self.tokens.load()
        return _session_of(stored) if stored is not None else None

    async def me(self) -> Session:
        """The signed-in session, checked with the server (refreshing the token if needed)."""
        await self._call("GET", f"{API}/auth/sessions")
        stored = self.tokens.load()
        if stored is None:
            raise AuthExpired()
        return _session_of(stored)

    async def sessions(self) -> list[SessionInfo]:
        return self._decode(await self._call("GET", f"{API}/auth/sessions"), list[SessionInfo])

    async def ping(self) -> bool:
        """Whether the server answers (reachability, not the phone's network type)."""
        try:
            response = await self._send("GET", "/health/live", auth=False)
        except Offline:
            return False
        return response.status_code < 500

    # --- sync ----------------------------------------------------------------------------------

    async def pull(self, cursor: str | None, limit: int = 500) -> PullPage:
        r = await self._call("GET", f"{API}/sync/pull", params={"cursor": cursor, "limit": limit})
        return self._decode(r, PullPage)

    async def bootstrap(
        self, table: str, after: str | None = None, limit: int = 1000, cursor: str | None = None
    ) -> BootstrapPage:
        params = {"table": table, "after": after, "limit": limit, "cursor": cursor}
        return self._decode(await self._call("GET", f"{API}/sync/bootstrap", params=params), BootstrapPage)

    async def push(self, device_id: str, ops: list[Any]) -> PushResponse:
        """Send queued operations (``PushOperation``s, or the outbox's ``QueuedOp``s); one answer each."""
        wire = [op.wire() if hasattr(op, "wire") else op for op in ops]
        r = await self._call("POST", f"{API}/sync/push", body=PushRequest(device_id=device_id, operations=wire))
        return self._decode(r, PushResponse)

    async def office_conflicts(self, limit: int = 100) -> list[dict[str, Any]]:
        """The office's unacknowledged sync conflicts (newest first), as the server lists them."""
        r = await self._call("GET", f"{API}/sync/conflicts", params={"limit": limit})
        return list(msgspec.json.decode(r.content).get("items") or [])

    async def acknowledge_office_conflict(self, conflict_id: str) -> None:
        """Mark one conflict seen for the whole office."""
        await self._call("POST", f"{API}/sync/conflicts/{conflict_id}/acknowledge")

    # --- attachments ---------------------------------------------------------------------------

    async def upload_photo(self, job_id: str, data: bytes, content_type: str, sha256: str | None = None) -> Photo:
        # the server hashes the bytes itself (content-addressed); the hash is checked on the answer
        r = await self._call("POST", f"{API}/jobs/{job_id}/photos", raw=data, content_type=content_type)
        photo = self._decode(r, Photo)
        if sha256 and photo.content_hash != sha256:
            raise ApiError("hash_mismatch", t("api.photo_hash_mismatch"), r.status_code)
        return photo

    async def put_signature(
        self,
        job_id: str,
        strokes: list[list[tuple[float, float]]],
        png: bytes | None = None,
        signer_name: str = "Cliente",
    ) -> Signature:
        """The signature's strokes (the server draws its own PNG from them; ``png`` stays on the device)."""
        del png
        body = SignatureInput(
            signer_name=signer_name,
            strokes=[[StrokePoint(x=float(x), y=float(y)) for x, y in stroke] for stroke in strokes],
        )
        return self._decode(await self._call("PUT", f"{API}/jobs/{job_id}/signature", body=body), Signature)
