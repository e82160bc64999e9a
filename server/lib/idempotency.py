"""Idempotency keys: a POST or PATCH retried with the same ``Idempotency-Key`` runs once.

The first request claims the key in Redis (SET NX, a short "running" marker), runs, and its response
(status, headers, body) is stored for ``settings.idempotency_ttl_seconds`` together with a SHA-256
fingerprint of the request (query string and body). A retry with the same fingerprint gets the stored
response byte for byte with ``Idempotent-Replayed: true``; with another fingerprint it is 409
``idempotency_key_reused``; while the first still runs it is 409 ``idempotency_in_progress``.
Server errors (5xx) and 429 are not stored: the key is released so the client can retry.

Keys are per caller (the authenticated user, else the ``Authorization`` header, else the client IP),
method and path.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import uuid
import zlib
from typing import Literal, cast

import msgspec
from litestar.types import ASGIApp, HTTPReceiveMessage, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.lib.context import CONTEXT_KEY, RequestContext
from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.ratelimit import client_ip, send_app_error
from server.settings import Settings
from shared.errors import ErrorCode

log = get_logger("campotech.idempotency")

IDEMPOTENCY_HEADER = b"idempotency-key"
REPLAYED_HEADER = b"idempotent-replayed"
KEY_PATTERN = re.compile(r"[A-Za-z0-9._-]{8,128}")
IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})
RUNNING_TTL_SECONDS = 60
IN_PROGRESS_RETRY_AFTER_SECONDS = 2
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

# Not stored, not replayed: they describe one connection, not the response.
HOP_BY_HOP_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"x-request-id",  # each replay carries its own trace id
        REPLAYED_HEADER,
    }
)

# Replace the record only while it is still our own marker (a slow request may have lost its claim).
_REPLACE_IF_OWNED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 1
end
return 0
"""
_DELETE_IF_OWNED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class IdempotencyRecord(msgspec.Struct, array_like=True, frozen=True):
    """What Redis holds under one key: the running marker, then the stored response."""

    state: Literal["running", "done"]
    fingerprint: str
    token: str = ""
    status: int = 0
    headers: list[tuple[bytes, bytes]] = []
    body: bytes = b""


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(IdempotencyRecord).decode


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


def caller_of(scope: Scope) -> str:
    """Who is asking: the authenticated user/org, else a hash of the credentials, else the client IP.

    The authenticated identity is a ``RequestContext`` in scope state or in ``scope["user"]`` (JWT auth);
    the auth middleware must therefore run before this one.
    """
    for ctx in (scope.get("state", {}).get(CONTEXT_KEY), scope.get("user")):
        if isinstance(ctx, RequestContext) and (ctx.user_id or ctx.org_id):
            return f"user:{ctx.org_id}:{ctx.user_id}"
    authorization = header_of(scope, b"authorization")
    if authorization:
        return "auth:" + hashlib.sha256(authorization).hexdigest()
    return "ip:" + client_ip(scope)


def header_of(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def redis_key_of(prefix: str, caller: str, method: str, path: str, key: str) -> str:
    digest = hashlib.sha256("\n".join((caller, method, path, key)).encode()).hexdigest()
    return f"{prefix}:idem:{digest}"


def fingerprint_of(query_string: bytes, body: bytes) -> str:
    return hashlib.sha256(query_string + b"\n" + body).hexdigest()


async def read_body(receive: Receive, max_bytes: int | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = cast("bytes", message.get("body", b""))
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _max_body_bytes(scope: Scope) -> int | None:
    handler = scope.get("route_handler")
    resolve = getattr(handler, "resolve_request_max_body_size", None)
    if resolve is None:
        return DEFAULT_MAX_BODY_BYTES
    try:
        return resolve()  # type: ignore[no-any-return]
    except Exception:
        return DEFAULT_MAX_BODY_BYTES


def _accepts_encoding(scope: Scope, encoding: bytes) -> bool:
    accepted = header_of(scope, b"accept-encoding") or b""
    return encoding in accepted.lower()


def replay_messages(record: IdempotencyRecord, scope: Scope) -> tuple[Message, Message]:
    """The stored response as ASGI messages, decompressed if this client cannot read its gzip body."""
    headers = [(k, v) for k, v in record.headers]
    body = record.body
    encoding = next((v.strip().lower() for k, v in headers if k == b"content-encoding"), None)
    if encoding == b"gzip" and not _accepts_encoding(scope, b"gzip"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            body = record.body
        else:
            headers = [(k, v) for k, v in headers if k not in {b"content-encoding", b"content-length"}]
            headers.append((b"content-length", str(len(body)).encode()))
    headers.append((REPLAYED_HEADER, b"true"))
    start: Message = {"type": "http.response.start", "status": record.status, "headers": headers}
    end: Message = {"type": "http.response.body", "body": body, "more_body": False}
    return start, end


def _is_storable(status: int) -> bool:
    return status < 500 and status != 429


class IdempotencyMiddleware:
    """ASGI middleware applying idempotency keys to POST and PATCH (see the module docstring)."""

    def __init__(self, app: ASGIApp, running_ttl_seconds: int = RUNNING_TTL_SECONDS) -> None:
        self.app = app
        self.running_ttl_seconds = running_ttl_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in IDEMPOTENT_METHODS:
            await self.app(scope, receive, send)
            return
        raw_key = header_of(scope, IDEMPOTENCY_HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not KEY_PATTERN.fullmatch(key):
            await send_app_error(scope, send, AppError(ErrorCode.IDEMPOTENCY_KEY_INVALID))
            return
        state = scope["app"].state
        resources = getattr(state, "resources", None)
        if resources is None:  # not started (no Redis): nothing to remember with
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, _max_body_bytes(scope))
        except _ClientGone:
            return
        except _BodyTooLarge:
            await send_app_error(scope, send, AppError(ErrorCode.PAYLOAD_TOO_LARGE))
            return
        await self._handle(scope, receive, send, resources.redis, state.settings, key, body)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, redis: Redis, settings: Settings, key: str, body: bytes
    ) -> None:
        ttl = settings.idempotency_ttl_seconds
        redis_key = redis_key_of(settings.queue_prefix, caller_of(scope), str(scope.get("method")), scope["path"], key)
        fingerprint = fingerprint_of(scope.get("query_string", b""), body)
        marker = _encode(IdempotencyRecord(state="running", fingerprint=fingerprint, token=uuid.uuid4().hex))
        try:
            existing = await self._claim(redis, redis_key, marker)
        except RedisError as exc:
            log.error("idempotency store unavailable", error=str(exc))
            await send_app_error(scope, send, AppError(ErrorCode.SERVICE_UNAVAILABLE))
            return
        if existing is not None:
            await self._answer_existing(scope, send, existing, fingerprint)
            return
        await self._run_and_store(scope, receive, send, redis, redis_key, marker, fingerprint, ttl, body)

    async def _claim(self, redis: Redis, redis_key: str, marker: bytes) -> IdempotencyRecord | None:
        """Claim the key (None) or return the record already there."""
        for _ in range(3):
            if await redis.set(redis_key, marker, nx=True, ex=self.running_ttl_seconds):
                return None
            raw = await redis.get(redis_key)
            if raw is not None:
                try:
                    return _decode(raw)
                except msgspec.DecodeError:
                    log.warning("unreadable idempotency record replaced", key=redis_key)
                    await redis.delete(redis_key)
        raise RedisError("could not claim the idempotency key")

    async def _answer_existing(self, scope: Scope, send: Send, record: IdempotencyRecord, fingerprint: str) -> None:
        if record.fingerprint != fingerprint:
            await send_app_error(scope, send, AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED))
        elif record.state == "running":
            retry = {"Retry-After": str(IN_PROGRESS_RETRY_AFTER_SECONDS)}
            await send_app_error(scope, send, AppError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, headers=retry))
        else:
            start, end = replay_messages(record, scope)
            await send(start)
            await send(end)

    async def _run_and_store(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        redis: Redis,
        redis_key: str,
        marker: bytes,
        fingerprint: str,
        ttl: int,
        body: bytes,
    ) -> None:
        body_delivered = False

        async def receive_body_once() -> HTTPReceiveMessage:
            nonlocal body_delivered
            if not body_delivered:
                body_delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # type: ignore[return-value]

        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        settled = False  # stored or released

        async def capture(message: Message) -> None:
            nonlocal status, headers, settled
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body" and not settled:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Settle before the client sees the end, so its next retry finds the stored answer.
                    settled = True
                    await self._settle(redis, redis_key, marker, fingerprint, ttl, status, headers, b"".join(chunks))
            elif not settled:  # an unusual response (e.g. a file sent by path): not replayable
                settled = True
                await self._release(redis, redis_key, marker)
            await send(message)

        try:
            await self.app(scope, receive_body_once, capture)
        finally:
            if not settled:
                await self._release(redis, redis_key, marker)

    async def _settle(
        self,
        redis: Redis,
        redis_key: str,
        marker: bytes,
        fingerprint: str,
        ttl: int,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        if not _is_storable(status):
            await self._release(redis, redis_key, marker)
            return
        record = IdempotencyRecord(
            state="done",
            fingerprint=fingerprint,
            status=status,
            headers=[(k, v) for k, v in headers if k not in HOP_BY_HOP_HEADERS],
            body=body,
        )
        try:
            stored = await redis.eval(_REPLACE_IF_OWNED, 1, redis_key, marker, _encode(record), ttl)  # type: ignore[misc]
        except RedisError as exc:
            log.error("idempotent response not stored", key=redis_key, error=str(exc))
            return
        if not stored:
            log.warning("idempotency claim expired before the response was stored", key=redis_key)

    async def _release(self, redis: Redis, redis_key: str, marker: bytes) -> None:
        try:
            await redis.eval(_DELETE_IF_OWNED, 1, redis_key, marker)  # type: ignore[misc]
        except RedisError as exc:
            log.error("idempotency key not released", key=redis_key, error=str(exc))


__all__ = [
    "IDEMPOTENCY_HEADER",
    "KEY_PATTERN",
    "IdempotencyMiddleware",
    "IdempotencyRecord",
    "caller_of",
]
