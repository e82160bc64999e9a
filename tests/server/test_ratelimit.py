"""The sliding-window limiter on real Redis, and the per-IP limit on /api/v1."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from litestar import Litestar, Router, get
from litestar.datastructures import State

from server.lib.errors import EXCEPTION_HANDLERS
from server.lib.ratelimit import ApiRateLimitMiddleware, RateLimiter
from server.lib.tracing import echo_trace_header
from server.runtime import Resources
from server.settings import Settings


@pytest.fixture(name="limiter")
def fixture_limiter(resources: Resources) -> RateLimiter:
    return RateLimiter(resources.redis, f"test-rl-{uuid.uuid4().hex[:8]}")


async def test_allows_up_to_the_limit_then_refuses(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("phone:+5491100000000", 3, 10) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    refused = decisions[-1]
    assert 9 < refused.retry_after_seconds <= 10
    assert refused.retry_after_header == "10"
    assert refused.headers()["Retry-After"] == "10"
    assert all(d.retry_after_seconds == 0 for d in decisions[:3])


async def test_window_slides(limiter: RateLimiter) -> None:
    first = await limiter.hit("ip:10.0.0.1", 2, 1.0)
    await asyncio.sleep(0.5)
    second = await limiter.hit("ip:10.0.0.1", 2, 1.0)
    refused = await limiter.hit("ip:10.0.0.1", 2, 1.0)
    assert first.allowed and second.allowed and not refused.allowed
    # the first hit leaves the window about 0.5 s from now (not a whole window from now)
    assert 0 < refused.retry_after_seconds <= 0.55

    await asyncio.sleep(refused.retry_after_seconds + 0.05)
    third = await limiter.hit("ip:10.0.0.1", 2, 1.0)
    assert third.allowed
    assert third.remaining == 0  # the second hit is still in the window
    still_full = await limiter.hit("ip:10.0.0.1", 2, 1.0)
    assert not still_full.allowed

    await asyncio.sleep(1.05)
    assert (await limiter.hit("ip:10.0.0.1", 2, 1.0)).allowed


async def test_refused_hits_do_not_extend_the_wait(limiter: RateLimiter) -> None:
    await limiter.hit("k", 1, 1.0)
    first_refusal = await limiter.hit("k", 1, 1.0)
    await asyncio.sleep(0.2)
    later_refusal = await limiter.hit("k", 1, 1.0)
    assert later_refusal.retry_after_seconds < first_refusal.retry_after_seconds


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    assert (await limiter.hit("phone:a", 1, 10)).allowed
    assert not (await limiter.hit("phone:a", 1, 10)).allowed
    assert (await limiter.hit("phone:b", 1, 10)).allowed


async def test_prefixes_are_independent(resources: Resources) -> None:
    one = RateLimiter(resources.redis, f"one-{uuid.uuid4().hex[:8]}")
    two = RateLimiter(resources.redis, f"two-{uuid.uuid4().hex[:8]}")
    assert (await one.hit("same", 1, 10)).allowed
    assert (await two.hit("same", 1, 10)).allowed


async def test_reset_forgets_the_hits(limiter: RateLimiter) -> None:
    await limiter.hit("otp:x", 1, 10)
    assert not (await limiter.hit("otp:x", 1, 10)).allowed
    await limiter.reset("otp:x")
    assert (await limiter.hit("otp:x", 1, 10)).allowed


async def test_concurrent_hits_never_exceed_the_limit(limiter: RateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.hit("burst", 5, 10) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 5


async def test_zero_limit_refuses_everything(limiter: RateLimiter) -> None:
    decision = await limiter.hit("closed", 0, 2)
    assert not decision.allowed
    assert decision.retry_after_seconds == 2


# -- the /api/v1 middleware ---------------------------------------------------------------------------


def build_app(settings: Settings, resources: Resources) -> Litestar:
    @get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "ok"}

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[Router(path="/api/v1", route_handlers=[ping]), health],
        middleware=[ApiRateLimitMiddleware],
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[echo_trace_header],
        state=State({"settings": settings, "resources": resources}),
    )


@pytest.fixture(name="limited_settings")
def fixture_limited_settings(settings: Settings) -> Settings:
    # a prefix of its own so no other test's hits count here
    return msgspec.structs.replace(settings, api_rate_limit_per_minute=3, queue_prefix=f"rl{uuid.uuid4().hex[:8]}")


@pytest.fixture(name="rl_client")
async def fixture_rl_client(limited_settings: Settings, resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(limited_settings, resources)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_api_requests_past_the_limit_get_429(rl_client: httpx.AsyncClient) -> None:
    responses = [await rl_client.get("/api/v1/ping") for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in responses)
    refused = responses[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["message"]
    assert body["traceId"] == refused.headers["x-request-id"]


async def test_health_is_not_limited(rl_client: httpx.AsyncClient) -> None:
    for _ in range(6):
        response = await rl_client.get("/health")
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers


async def test_each_client_ip_has_its_own_limit(limited_settings: Settings, resources: Resources) -> None:
    app = build_app(limited_settings, resources)
    first = httpx.ASGITransport(app=app, client=("203.0.113.1", 1000))
    second = httpx.ASGITransport(app=app, client=("203.0.113.2", 1000))
    async with (
        httpx.AsyncClient(transport=first, base_url="http://testserver") as one,
        httpx.AsyncClient(transport=second, base_url="http://testserver") as two,
    ):
        assert [(await one.get("/api/v1/ping")).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert (await two.get("/api/v1/ping")).status_code == 200


async def test_zero_turns_the_api_limit_off(settings: Settings, resources: Resources) -> None:
    off = msgspec.structs.replace(settings, api_rate_limit_per_minute=0, queue_prefix=f"rl{uuid.uuid4().hex[:8]}")
    app = build_app(off, resources)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for _ in range(5):
            response = await client.get("/api/v1/ping")
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers
