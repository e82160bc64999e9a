"""Sliding-window rate limiting on Redis, and the per-IP limit on ``/api/v1/*``.

``RateLimiter.hit`` keeps a sliding log per key (a sorted set of admission times, Redis server clock)
and decides atomically in one Lua script, so any number of processes share one limit. A refused hit
is not logged, and its ``retry_after_seconds`` is exactly when the oldest counted hit leaves the
window.
"""

from __future__ import annotations

import math
import uuid

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.lib.errors import AppError
from server.lib.logging import get_logger
from server.lib.tracing import trace_id_of
from shared.errors import ErrorCode
from shared.schemas.base import ErrorBody

log = get_logger("campotech.ratelimit")

API_PATH_PREFIX = "/api/v1"
API_WINDOW_SECONDS = 60.0

# KEYS[1] = the log; ARGV = limit, window (µs), a unique member. Returns {allowed, remaining, retry_after_µs}.
_SLIDING_LOG = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, limit - count - 1, 0}
end
local retry = window
if count > 0 then
  local index = count - limit
  local entry = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
  retry = tonumber(entry[2]) + window - now
end
return {0, 0, retry}
"""


class RateDecision(msgspec.Struct, frozen=True):
    """The answer to one hit: allowed or not, how many remain, and when to retry (0 when allowed)."""

    allowed: bool
    remaining: int
    retry_after_seconds: float
    limit: int

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds (rounded up, at least 1)."""
        return str(max(1, math.ceil(self.retry_after_seconds)))

    def headers(self) -> dict[str, str]:
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            out["Retry-After"] = self.retry_after_header
        return out


class RateLimiter:
    """Sliding-log limiter: at most ``limit`` hits per key in any ``window_seconds``-long interval.

    Use one key per window size (a key's log is trimmed with the window of each call).
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_SLIDING_LOG)

    def key_of(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit against ``key`` if the limit allows it."""
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        window_us = max(1, round(window_seconds * 1_000_000))
        allowed, remaining, retry_us = await self._script(
            keys=[self.key_of(key)], args=[max(0, limit), window_us, uuid.uuid4().hex]
        )
        return RateDecision(
            allowed=bool(allowed),
            remaining=int(remaining),
            retry_after_seconds=int(retry_us) / 1_000_000,
            limit=limit,
        )

    async def reset(self, key: str) -> None:
        """Forget every hit of ``key`` (e.g. after a successful login)."""
        await self.redis.delete(self.key_of(key))


def client_ip(scope: Scope) -> str:
    """The peer address. Behind a proxy, run uvicorn with ``--proxy-headers`` so this is the real client."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def send_app_error(scope: Scope, send: Send, error: AppError) -> None:
    """Answer with the standard error body from inside ASGI middleware (outside the exception handlers)."""
    body = msgspec.json.encode(
        ErrorBody(code=error.code.value, message=error.message, details=error.details, trace_id=trace_id_of(scope))
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def is_rate_limited_path(path: str) -> bool:
    return path == API_PATH_PREFIX or path.startswith(API_PATH_PREFIX + "/")


class ApiRateLimitMiddleware:
    """Per-client-IP limit of ``settings.api_rate_limit_per_minute`` on ``/api/v1/*`` (0 turns it off).

    Every API response carries ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``; a refused request
    is 429 ``rate_limited`` with ``Retry-After``. If Redis is unreachable the request is let through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limiter: RateLimiter | None = None

    def _limiter_for(self, scope: Scope) -> RateLimiter | None:
        state = scope["app"].state
        resources = getattr(state, "resources", None)
        if resources is None:
            return None
        if self._limiter is None or self._limiter.redis is not resources.redis:
            self._limiter = RateLimiter(resources.redis, f"{state.settings.queue_prefix}:rl")
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_rate_limited_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        limit = int(scope["app"].state.settings.api_rate_limit_per_minute)
        limiter = self._limiter_for(scope)
        if limit <= 0 or limiter is None:
            await self.app(scope, receive, send)
            return
        try:
            decision = await limiter.hit(f"api:ip:{client_ip(scope)}", limit, API_WINDOW_SECONDS)
        except RedisError as exc:
            log.warning("rate limiter unavailable; request let through", error=str(exc))
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            log.info("rate limited", path=scope["path"], ip=client_ip(scope))
            await send_app_error(scope, send, AppError(ErrorCode.RATE_LIMITED, headers=decision.headers()))
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in decision.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = [
    "ApiRateLimitMiddleware",
    "RateDecision",
    "RateLimiter",
    "client_ip",
    "send_app_error",
]
