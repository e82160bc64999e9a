"""Health endpoints tell the truth when a dependency is down (and never answer 500)."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from server.asgi import create_app
from server.db.engine import create_engine, create_sessionmaker
from server.embedded import free_port
from server.lib.metrics import Metrics
from server.runtime import Resources
from server.settings import Settings
from tests.conftest import running


def _closed_port() -> int:
    return free_port()  # nothing listens there


def _resources(settings: Settings, *, pg_ok: bool, redis_ok: bool) -> Resources:
    pg_url = settings.runtime_database_url() if pg_ok else f"postgresql://nobody@127.0.0.1:{_closed_port()}/none"
    redis_url = settings.require_redis_url()
    engine = create_engine(pg_url, pool_size=1)
    return Resources(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        redis=Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5),
        metrics=Metrics(),
    )


@pytest.mark.parametrize(("pg_ok", "redis_ok"), [(False, True), (True, False)])
async def test_ready_and_live_say_which_dependency_is_down(settings: Settings, pg_ok: bool, redis_ok: bool) -> None:
    if not redis_ok:  # the queues read the same setting
        settings = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    resources = _resources(settings, pg_ok=pg_ok, redis_ok=redis_ok)
    app = create_app(settings, resources)
    try:
        async with (
            running(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
        ):
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["postgres"]["ok"] is pg_ok and checks["redis"]["ok"] is redis_ok
            assert "error" in checks["postgres" if not pg_ok else "redis"]
            live = await client.get("/health/live")
            assert live.status_code == 503
            assert live.json()["status"] == "unavailable"
            if not redis_ok:
                assert live.json()["checks"]["queues"]["ok"] is False
            assert (await client.get("/metrics")).status_code == 200  # metrics never fail with a dependency
    finally:
        await resources.close()
