"""Sliding-window rate limiting on Redis, and the per-IP limit on ``/api/v1/*``.

``RateLimiter.hit`` keeps a sliding log per key (a sorted set of admission times, Redis server clock)
and decides atomically in one Lua script, so any number of processes share one limit. A refused hit
is not logged, and its ``retry_after_seconds`` is exactly when the oldest counted hit leaves the
window.

An authenticated API request needs two answers from Redis: is its session revoked, and may this
client make one more request. ``check_session_and_hit`` asks both in one script (one round trip): a
revoked session is refused before anything is counted, exactly as when the two were separate calls;
the rate decision is left in the scope for ``ApiRateLimitMiddleware``, which then makes no call of
its own.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

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

# The same, after refusing a revoked session (KEYS[2]) without counting the hit: {-1, 0, 0}.
_REVOKED_THEN_SLIDING_LOG = "if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0, 0} end\n" + _SLIDING_LOG

_DECISION_STATE_KEY = "campotech.api_rate_decision"


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
        self._revoked_script = redis.register_script(_REVOKED_THEN_SLIDING_LOG)

    def key_of(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit against ``key`` if the limit allows it."""
        allowed, remaining, retry_us = await self._script(
            keys=[self.key_of(key)], args=_script_args(limit, window_seconds)
        )
        return _decision(allowed, remaining, retry_us, limit)

    async def hit_unless_revoked(
        self, key: str, limit: int, window_seconds: float, revoked_key: str
    ) -> RateDecision | None:
        """``hit``, unless ``revoked_key`` exists (then None, and nothing is counted): one round trip."""
        keys, args = [self.key_of(key), revoked_key], _script_args(limit, window_seconds)
        try:  # EVALSHA straight away: redis-py's Script wrapper costs more CPU than the call (a hot path)
            allowed, remaining, retry_us = await self.redis.evalsha(self._revoked_script.sha, 2, *keys, *args)
        except NoScriptError:  # a restarted or flushed Redis: the wrapper loads the script again
            allowed, remaining, retry_us = await self._revoked_script(keys=keys, args=args)
        if int(allowed) < 0:
            return None
        return _decision(allowed, remaining, retry_us, limit)

    async def reset(self, key: str) -> None:
        """Forget every hit of ``key`` (e.g. after a successful login)."""
        await self.redis.delete(self.key_of(key))


def _script_args(limit: int, window_seconds: float) -> list[int | str]:
    """ARGV of ``_SLIDING_LOG``: the limit, the window in µs and a unique member."""
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    return [max(0, limit), max(1, round(window_seconds * 1_000_000)), uuid.uuid4().hex]


def _decision(allowed: Any, remaining: Any, retry_us: Any, limit: int) -> RateDecision:
    """The script's answer ``{allowed, remaining, retry_after_µs}`` as a ``RateDecision``."""
    return RateDecision(
        allowed=bool(allowed),
        remaining=int(remaining),
        retry_after_seconds=int(retry_us) / 1_000_000,
        limit=limit,
    )


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


def api_limiter(scope: Scope) -> RateLimiter | None:
    """The API limiter of the running app (one a Redis client and key prefix), None before start-up."""
    state = scope["app"].state
    resources = getattr(state, "resources", None)
    if resources is None:
        return None
    prefix = f"{state.settings.queue_prefix}:rl"  # apps sharing resources (tests) may count apart
    limiters: dict[tuple[int, str], RateLimiter] = resources.extras.setdefault("api_rate_limiters", {})
    limiter = limiters.get((id(resources.redis), prefix))
    if limiter is None or limiter.redis is not resources.redis:
        limiter = limiters[(id(resources.redis), prefix)] = RateLimiter(resources.redis, prefix)
    return limiter


def _api_limit(scope: Scope) -> tuple[RateLimiter, int] | None:
    """The app's API limiter and its per-minute limit, None when the limit is off or before start-up."""
    limit = int(scope["app"].state.settings.api_rate_limit_per_minute)
    limiter = api_limiter(scope)
    return None if limit <= 0 or limiter is None else (limiter, limit)


def _api_key(scope: Scope) -> str:
    return f"api:ip:{client_ip(scope)}"


async def check_session_and_hit(scope: Scope, revoked_key: str) -> bool | None:
    """For an authenticated request: whether ``revoked_key`` exists, and the API rate-limit hit, in one round trip.

    True: the session is revoked (nothing was counted). False: it is not, and the rate decision waits
    in the scope for ``ApiRateLimitMiddleware``. None: this request has no API rate limit here (not an
    API path, the limit is off, or Redis failed): the caller asks about the session itself.
    """
    if scope.get("type") != "http" or not is_rate_limited_path(scope["path"]):
        return None
    configured = _api_limit(scope)
    if configured is None:
        return None
    limiter, limit = configured
    try:
        decision = await limiter.hit_unless_revoked(_api_key(scope), limit, API_WINDOW_SECONDS, revoked_key)
    except RedisError as exc:
        log.warning("rate limiter unavailable", error=str(exc))
        return None
    if decision is None:
        return True
    scope.setdefault("state", {})[_DECISION_STATE_KEY] = decision
    return False


class ApiRateLimitMiddleware:
    """Per-client-IP limit of ``settings.api_rate_limit_per_minute`` on ``/api/v1/*`` (0 turns it off).

    Every API response carries ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``; a refused request
    is 429 ``rate_limited`` with ``Retry-After``. If Redis is unreachable the request is let through.
    An authenticated request was already counted with its session check (``check_session_and_hit``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_rate_limited_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        decision = scope.get("state", {}).pop(_DECISION_STATE_KEY, None)
        if decision is None:
            configured = _api_limit(scope)
            if configured is None:
                await self.app(scope, receive, send)
                return
            limiter, limit = configured
            try:
                decision = await limiter.hit(_api_key(scope), limit, API_WINDOW_SECONDS)
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
    "api_limiter",
    "check_session_and_hit",
    "client_ip",
    "send_app_error",
]
